"""v4 LoRA training on espeak-ng speech, as subprocesses: prepare.text / hubert / semantic -> train.sovits
--version v4 --lora-rank 16 (the version table's 2 epochs) -> train.gpt --version v4 -> the LoRA file is
detected as v4 LoRA from its header, merges onto the tiny base and synthesises 48 kHz audio in the engine.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from GPT_SoVITS.checkpoints import load_sovits, save_sovits, sniff_sovits_version
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.progress import read_progress
from tests.prepare.conftest import ZH_SENTENCES, make_tiny_bert
from tests.tiny_models import make_tiny_hubert
from tests.train.synth import run_module, save_tiny_sovits, tiny_sovits_config
from tests.train.test_train_pro import TINY_S1, speech_list

BASE = "gsv-v4-pretrained/s2Gv4.pth"
VOCODER = "gsv-v4-pretrained/vocoder.pth"


def _ok(r) -> None:
    assert r.returncode == 0, r.stderr[-3000:]


def save_tiny_v4(pretrained: Path) -> Path:
    """A random tiny v4 base (official layout under ``pretrained``) and its tiny 48 kHz vocoder."""
    from GPT_SoVITS.models.cfm import DiTConfig
    from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3, V3Sizes
    from GPT_SoVITS.models.vocoder.hifigan_v4 import V4VocoderConfig, build_v4_vocoder

    torch.manual_seed(0)
    config = tiny_sovits_config()
    m = config["model"]
    m["version"] = "v4"
    sizes = V3Sizes(dit=DiTConfig(dim=64, depth=2, heads=1, text_dim=32, conv_layers=1), wns1_channels=32,
                    wns1_kernel=3, wns1_layers=1)  # fmt: skip
    model = SynthesizerTrnV3(m["inter_channels"], m["hidden_channels"], m["filter_channels"], m["n_heads"],
                             m["n_layers"], m["kernel_size"], m["p_dropout"], m["gin_channels"], "v4",
                             sizes=sizes)  # fmt: skip
    with torch.no_grad():  # a trained-looking codebook
        book = model.quantizer.vq.layers[0]._codebook
        book.embed.normal_(0, 0.6)
        book.embed_avg.copy_(book.embed)
        book.inited.fill_(1)
    (pretrained / BASE).parent.mkdir(parents=True)
    save_sovits(pretrained / BASE, model.state_dict(), config, "base", version="v4")
    voc = build_v4_vocoder(
        V4VocoderConfig(
            upsample_initial_channel=32, resblock_kernel_sizes=(3,), resblock_dilation_sizes=((1, 3, 5),)
        )
    )
    torch.save(voc.state_dict(), pretrained / VOCODER)
    return pretrained / BASE


@pytest.mark.slow
def test_v4_lora_list_to_weights_to_speech(tmp_path: Path) -> None:
    from GPT_SoVITS.inference.engine import TTSEngine
    from GPT_SoVITS.inference.guard import GuardConfig
    from GPT_SoVITS.inference.request import TTSRequest
    from GPT_SoVITS.models.v3v4.load import load_v3v4_sovits

    list_path, entries = speech_list(tmp_path / "speech")
    models, pretrained = tmp_path / "models", tmp_path / "pretrained_models"
    bert = make_tiny_bert(models / "bert", ZH_SENTENCES[: len(entries)])
    hubert = make_tiny_hubert(models / "hubert")
    base = save_tiny_v4(pretrained)
    exp = Experiment(tmp_path / "logs" / "voice")
    common = ["--exp", exp.root, "--device", "cpu"]
    _ok(run_module("GPT_SoVITS.prepare.text", *common, "--list", list_path, "--bert", bert))
    _ok(run_module("GPT_SoVITS.prepare.hubert", *common, "--list", list_path, "--hubert", hubert))
    codes_model = save_tiny_sovits(models / "s2G.pth")  # the GPT's targets; the LoRA reads the features
    _ok(
        run_module(
            "GPT_SoVITS.prepare.semantic", *common, "--list", list_path, "--pretrained-sovits", codes_model
        )
    )
    sovits_w, gpt_w = tmp_path / "SoVITS_weights_v4", tmp_path / "GPT_weights_v4"
    _ok(run_module(
        "GPT_SoVITS.train.sovits", *common, "--version", "v4", "--lora-rank", "16", "--list", list_path,
        "--pretrained-g", base, "--batch-size", str(len(entries)), "--min-epoch-items", "0",
        "--weights-dir", sovits_w, "--log-interval", "1",
    ))  # fmt: skip
    _ok(run_module(
        "GPT_SoVITS.train.gpt", *common, "--version", "v4", "--list", list_path, "--epochs", "1",
        "--batch-size", "3", "--min-epoch-items", "0", "--accumulate", "1", "--weights-dir", gpt_w,
        "--log-interval", "1", "--config", TINY_S1,
    ))  # fmt: skip
    metrics = [e for e in read_progress(exp.root) if e["event"] == "metric"]
    cfm = [e["loss/g/cfm"] for e in metrics if "loss/g/cfm" in e]
    assert len(cfm) == 2 and all(math.isfinite(v) for v in cfm)  # 2 epochs: the table's v4 default
    assert sorted(p.name for p in sovits_w.iterdir()) == ["voice_e1_s1_l16.pth", "voice_e2_s2_l16.pth"]

    lora_file = sovits_w / "voice_e2_s2_l16.pth"
    assert lora_file.read_bytes()[:2] == b"04"
    assert sniff_sovits_version(lora_file).as_official() == ["v2", "v4", True]
    ckpt = load_sovits(lora_file)
    assert ckpt.is_lora and ckpt.lora_rank == 16 and ckpt.info == "2epoch_2iteration"
    assert not any(k.startswith(("enc_p.", "ssl_proj.")) for k in ckpt.weight)  # the frozen content path
    merged = load_v3v4_sovits(ckpt, "v4", True, base_path=base).state_dict()
    q = "cfm.estimator.transformer_blocks.0.attn.to_q.weight"
    assert not torch.equal(merged[q], load_sovits(base).weight[q].float())  # the LoRA moved the DiT

    engine = TTSEngine(
        gpt_w / "voice-e1.ckpt", lora_file, bert, hubert, device="cpu", pretrained_dir=pretrained,
        guard=GuardConfig(max_tokens_per_phone=2.0, slack_tokens=4),
    )  # fmt: skip
    assert engine.sovits.version == "v4" and engine.sample_rate == 48000
    req = TTSRequest(
        text="我们一起去公园。", text_lang="zh", ref_audio_path=str(list_path.parent / entries[0].path),
        prompt_text=entries[0].text, prompt_lang="zh", seed=1, max_retries=0, sample_steps=4,
    )  # fmt: skip
    result = engine.synthesize(req)
    assert result.sample_rate == 48000 and result.duration > 0.05
    assert np.all(np.isfinite(result.audio)) and np.abs(result.audio).max() > 0


def test_lora_flags_are_checked(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    common = ["--exp", experiment.root, "--device", "cpu", "--weights-dir", tmp_path / "w"]
    r = run_module(
        "GPT_SoVITS.train.sovits", *common, "--lora-rank", "16", "--pretrained-g", pretrained["sovits"]
    )
    assert r.returncode == 2 and "--lora-rank" in r.stderr and "v2" in r.stderr, r.stderr
    missing = tmp_path / "nowhere" / "s2Gv4.pth"
    r = run_module("GPT_SoVITS.train.sovits", *common, "--version", "v4", "--pretrained-g", missing)
    assert r.returncode == 2 and str(missing) in r.stderr and "--pretrained-g" in r.stderr, r.stderr
    r = run_module("GPT_SoVITS.train.sovits", *common, "--version", "v4", "--lora-rank", "8")
    assert r.returncode == 2 and "--lora-rank" in r.stderr


@pytest.mark.parametrize(("version", "per_frame"), [("v3", 1.875), ("v4", 2.0)])
def test_cfm_items_carry_the_versions_mel(version: str, per_frame: float, experiment: Experiment) -> None:
    from GPT_SoVITS.config.sovits import SoVITSConfig
    from GPT_SoVITS.data.cfm_dataset import CFMDataset, collate_cfm
    from GPT_SoVITS.train.cli import phone_mapper

    cfg = SoVITSConfig.from_dict(tiny_sovits_config())
    names = ["clip0.wav", "clip3.wav"]
    ds = CFMDataset(experiment, names, phone_mapper(version), cfg.data, 0, version=version)
    items = [ds[0], ds[1]]
    for ssl, spec, mel, _ids in items:
        assert mel.shape[0] == 100 and mel.shape[1] == int(spec.shape[1] * per_frame)  # no frame lost
        assert ssl.shape[-1] == spec.shape[-1] and -1.5 < mel.mean() < 1 and mel.std() > 0.05
    ssl, spec, spec_len, mel, mel_len, text, text_len = collate_cfm(items)
    longest = max(items, key=lambda it: it[1].shape[1])
    assert spec_len[0] == longest[1].shape[1] and mel_len[0] == longest[2].shape[1]
    assert torch.equal(mel[0, :, : mel_len[0]], longest[2]) and text.shape == (2, int(text_len.max()))


@pytest.mark.slow
def test_lora_training_resumes_with_its_rank(experiment: Experiment, tmp_path: Path) -> None:
    base = save_tiny_v4(tmp_path / "pretrained_models")
    weights = tmp_path / "SoVITS_weights_v4"
    args = ["--exp", experiment.root, "--version", "v4", "--pretrained-g", base, "--device", "cpu",
            "--weights-dir", weights, "--batch-size", "3", "--min-epoch-items", "0",
            "--log-interval", "1"]  # fmt: skip
    _ok(run_module("GPT_SoVITS.train.sovits", *args, "--save-every-steps", "1", "--max-steps", "1"))
    assert (experiment.root / "logs_s2_v4" / "G_1.pth").is_file() and not weights.exists()
    r = run_module("GPT_SoVITS.train.sovits", *args, "--lora-rank", "16")
    assert r.returncode == 2 and "--lora-rank 32" in r.stderr, r.stderr  # the checkpoints' rank
    _ok(run_module("GPT_SoVITS.train.sovits", *args))  # resumes at step 1, default rank 32, 2 epochs
    assert sorted(p.name for p in weights.iterdir()) == ["exp_e1_s2_l32.pth", "exp_e2_s4_l32.pth"]
    events = read_progress(experiment.root)
    assert sum(1 for e in events if e["event"] == "note" and "base loaded" in e["message"]) == 1
    steps = [e["step"] for e in events if e["event"] == "metric"]
    assert steps[-3:] == [2, 3, 4]
    assert load_sovits(weights / "exp_e2_s4_l32.pth").lora_rank == 32
