"""Sample synthesis at each GPT save: the same training sentence every time, so epochs compare by ear.

The first item (by name) gives the phones, BERT features and reference; a third of its own codes is the
prompt; the GPT continues greedily (top_k 1) and a SoVITS model (``--sample-sovits``) turns the codes into
``<exp>/samples/gpt_e<E>_s<S>.wav``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.gpt_dataset import BERT_DIM, CODES_PER_SECOND, GPTDataset
from GPT_SoVITS.train.common import Metrics

log = logging.getLogger(__name__)


class GPTSampler:
    def __init__(self, sovits_path: Path, device: torch.device) -> None:
        from GPT_SoVITS.checkpoints import load_sovits
        from GPT_SoVITS.models.sovits import load_sovits_model

        ckpt = load_sovits(sovits_path)
        self.data = dict(ckpt.config["data"])
        self.sovits = load_sovits_model(ckpt, device)
        self.device = device

    @torch.no_grad()
    def __call__(
        self, model: nn.Module, ds: GPTDataset, exp: Experiment, metrics: Metrics, epoch: int, step: int
    ) -> Path:
        from GPT_SoVITS.audio import load_audio, save_wav, spectrogram_torch
        from GPT_SoVITS.models.gpt.backends import choose_backend
        from GPT_SoVITS.models.gpt.decode import DecodeLimits, infer_panel
        from GPT_SoVITS.models.gpt.sampling import SamplingOptions

        item = min(ds.items, key=lambda it: it.name)
        dev = self.device
        x = torch.tensor([item.phone_ids], dtype=torch.long, device=dev)
        bert = ds.bert(item)
        bert = torch.zeros(BERT_DIM, x.shape[1]) if bert is None else bert
        prompt = torch.tensor([item.codes[: max(1, len(item.codes) // 3)]], dtype=torch.long, device=dev)
        was_training = model.training
        model.eval()
        gen = torch.Generator(device="cpu").manual_seed(0)
        limit = 2 * len(item.codes) + CODES_PER_SECOND  # at most about twice the clip's length
        greedy = SamplingOptions(top_k=1)
        backend = choose_backend("auto", dev, model.ar_predict_layer.weight.dtype)
        y, _ = infer_panel(model, x, prompt, bert[None].to(dev), greedy, DecodeLimits(limit), backend, gen)
        model.train(was_training)
        codes = y[:, prompt.shape[1] :]
        if codes.shape[1] == 0:
            codes = prompt
        d = self.data
        wav = torch.from_numpy(load_audio(exp.wav_path(item.name), int(d["sampling_rate"])))[None]
        spec = spectrogram_torch(
            wav, int(d["filter_length"]), int(d["sampling_rate"]), int(d["hop_length"]), int(d["win_length"])
        ).to(dev)
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(0)
            audio = self.sovits.decode(codes[None], x, spec, noise_scale=0.5)  # codes (n_q=1, 1, T)
        out = exp.root / "samples" / f"gpt_e{epoch}_s{step}.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        save_wav(out, audio[0, 0].float().cpu().clamp(-1, 1).numpy(), int(d["sampling_rate"]))
        metrics.audio("sample/gpt", audio[0], step, int(d["sampling_rate"]))
        return out
