"""TTSEngine: loaded models (GPT, SoVITS, BERT, HuBERT) and the per-reference caches; synthesis entry points.

Concurrency: the models are read-only after loading and every request carries its own state (seeded
generators, caches are keyed by content), so requests may run in parallel threads. Switching weights
swaps an immutable ``Models`` snapshot; a request in flight keeps the snapshot it started with.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from GPT_SoVITS.audio import resample, spectrogram_torch
from GPT_SoVITS.checkpoints import load_gpt, load_sovits
from GPT_SoVITS.devices import resolve_device, resolve_dtype
from GPT_SoVITS.inference.cfm_stage import CFMStage
from GPT_SoVITS.inference.guard import GuardConfig
from GPT_SoVITS.inference.reference import LRUCache, ReferenceError, Window, file_digest, windowed_reference
from GPT_SoVITS.inference.request import TTSRequest, languages_for
from GPT_SoVITS.inference.results import AudioChunk, EngineError, SynthesisResult
from GPT_SoVITS.inference.segments import Frontend, Phonemes
from GPT_SoVITS.paths import PRETRAINED_DIR
from GPT_SoVITS.versions import SV_MODEL_FILE, spec

log = logging.getLogger(__name__)

MUTE_TOKEN = 486  # the official "silence" semantic token; streaming mode 2 cuts near tokens like it


@dataclass(frozen=True)
class GPTModel:
    path: str
    model: torch.nn.Module
    max_sec: int  # official early stop: 50 tokens/s x max_sec
    mute_similarity: torch.Tensor  # [vocab] cosine similarity of each token embedding to MUTE_TOKEN (CPU)


@dataclass(frozen=True)
class SoVITSModel:
    path: str
    model: torch.nn.Module
    version: str  # official version string (v1, v2, ...)
    symbol_version: str  # "v1" | "v2"
    sampling_rate: int
    filter_length: int
    hop_length: int
    win_length: int
    inter_channels: int
    cfm: CFMStage | None = None  # v3/v4: the CFM + vocoder stage replaces the SoVITS decoder
    sv: object | None = None  # features.sv.SpeakerEncoder of v2Pro/v2ProPlus (their style needs it)

    @property
    def output_rate(self) -> int:
        """Sample rate of the synthesised audio (the vocoder's for v3/v4)."""
        return self.cfm.vspec.sr if self.cfm is not None else self.sampling_rate


@dataclass(frozen=True)
class PreparedReference:
    digest: str
    prompt_codes: torch.Tensor  # [P] long, CPU: semantic tokens of the prompt window
    spec: torch.Tensor  # [1, filter_length // 2 + 1, frames] float32, CPU
    window: Window
    mel_wav: torch.Tensor | None = None  # v3/v4: the window at the CFM mel rate [samples], float32, CPU
    sv_emb: torch.Tensor | None = None  # [1, 20480] float32, CPU: SV embedding (v2Pro/v2ProPlus only)


class TTSEngine:
    def __init__(
        self,
        gpt_path: str | Path,
        sovits_path: str | Path,
        bert_dir: str | Path | None = None,
        hubert_dir: str | Path | None = None,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        guard: GuardConfig | None = None,
        cache_size: int = 32,
        pretrained_dir: str | Path | None = None,
        sv_path: str | Path | None = None,
        gpt_backend: str = "auto",
    ) -> None:
        """sv_path: the SV model v2Pro/v2ProPlus weights need (default pretrained_models/sv/...ckpt)."""
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.dtype = resolve_dtype(precision, self.device)
        # On CPU, fp16 keeps the models in fp32 but runs the GPT's per-token matrix products in fp16
        # (greedy tokens unchanged on the goldens; see bench/decode.py). It was 2x faster than the first
        # fp32 step; the numpy + numba fp32 step now matches it on a 2-core Zen 4 (no fast fp16 there).
        self.step_precision = "fp16" if precision == "fp16" and self.device.type == "cpu" else "fp32"
        # how the GPT's layers run (``--gpt-backend``): chosen once here, passed to every decoding call
        self.gpt_backend = self._choose_backend(gpt_backend)
        self.guard = guard or GuardConfig()
        # where v3/v4 LoRA files find their base and v3/v4 models their vocoder (official layout)
        self.pretrained_dir = Path(pretrained_dir) if pretrained_dir is not None else PRETRAINED_DIR
        self._swap = threading.Lock()  # serialises weight switches (not synthesis)
        self.sv_path = Path(sv_path) if sv_path is not None else None
        self.gpt = self._load_gpt(gpt_path)
        self.sovits = self._load_sovits(sovits_path)
        self.bert = self._load_bert(bert_dir)
        self.hubert = self._load_hubert(hubert_dir)
        self.references: LRUCache[tuple, PreparedReference] = LRUCache(cache_size)
        self.prompts: LRUCache[tuple, Phonemes] = LRUCache(cache_size)
        self._frontends: dict[str, Frontend] = {}

    # -- loading ---------------------------------------------------------------------------------------
    def _choose_backend(self, name: str):
        from GPT_SoVITS.models.gpt.backends import choose_backend

        try:
            return choose_backend(name, self.device, self.dtype, self.step_precision)
        except ValueError as e:
            raise EngineError(str(e)) from e

    def _cast(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(device=self.device, dtype=self.dtype).eval()

    def _load_gpt(self, path: str | Path) -> GPTModel:
        from GPT_SoVITS.models.gpt import load_gpt_model

        ckpt = load_gpt(path)  # CheckpointError (a ValueError) for a SoVITS file or a broken one
        model = self._cast(load_gpt_model(ckpt, device="cpu"))
        emb = model.ar_audio_embedding.word_embeddings.weight.detach().float().cpu()
        mute = emb[min(MUTE_TOKEN, emb.shape[0] - 1)][None]
        sim = F.cosine_similarity(mute, emb, dim=-1)
        max_sec = int(ckpt.config.get("data", {}).get("max_sec", 54))
        log.info("GPT %s loaded (%s, %s)", path, self.device, self.dtype)
        return GPTModel(str(path), model, max_sec, sim)

    def _load_sovits(self, path: str | Path) -> SoVITSModel:
        from GPT_SoVITS.models.sovits import load_sovits_model
        from GPT_SoVITS.models.sovits.commons import fold_weight_norms

        ckpt = load_sovits(path)
        version_spec = spec(ckpt.version)
        if version_spec.uses_cfm:
            return self._load_cfm_sovits(ckpt)
        if ckpt.is_lora:
            raise EngineError(
                f"{path}: SoVITS {ckpt.version.value} weights are not supported by this engine yet "
                "(v1, v2, v2Pro and v2ProPlus are)"
            )
        model = self._cast(load_sovits_model(ckpt, device="cpu"))
        sv = self._load_sv(model, path) if version_spec.has_sv_embedding else None
        fold_weight_norms(model)  # inference only: the engine never saves this model
        data, mconf = ckpt.config["data"], ckpt.config["model"]
        log.info("SoVITS %s loaded (version %s)", path, ckpt.version.value)
        return SoVITSModel(
            str(path),
            model,
            ckpt.version.value,
            ckpt.symbol_version,
            int(data["sampling_rate"]),
            int(data["filter_length"]),
            int(data["hop_length"]),
            int(data["win_length"]),
            int(mconf["inter_channels"]),
            sv=sv,
        )

    def _load_cfm_sovits(self, ckpt) -> SoVITSModel:
        """v3/v4: the CFM model (a LoRA file merged onto its base) and the version's vocoder."""
        from GPT_SoVITS.inference.cfm_stage import load_cfm_sovits

        model, stage = load_cfm_sovits(ckpt, self.pretrained_dir, self.device, self.dtype)
        data, mconf = ckpt.config["data"], ckpt.config["model"]
        log.info("SoVITS %s loaded (version %s, CFM + vocoder)", ckpt.path, ckpt.version.value)
        return SoVITSModel(
            str(ckpt.path), model, ckpt.version.value, ckpt.symbol_version, int(data["sampling_rate"]),
            int(data["filter_length"]), int(data["hop_length"]), int(data["win_length"]),
            int(mconf["inter_channels"]), cfm=stage,
        )  # fmt: skip

    def _load_sv(self, model: torch.nn.Module, sovits_path: str | Path) -> object:
        """The SV model of v2Pro/v2ProPlus; a missing or mismatched file names itself and the SoVITS file."""
        from GPT_SoVITS.features.sv import SpeakerEncoder

        path = self.sv_path or self.pretrained_dir / SV_MODEL_FILE
        encoder = SpeakerEncoder(path, device=self.device, dtype=self.dtype)
        encoder.check_fits(model.sv_input_dim, sovits_path)
        return encoder

    def _load_bert(self, folder: str | Path | None) -> object | None:
        if folder is None:
            log.warning("no BERT folder: Chinese text gets zero BERT features (lower prosody quality)")
            return None
        if not Path(folder).is_dir():
            raise EngineError(f"{folder}: BERT folder not found")
        from GPT_SoVITS.features.bert import BertFeatureExtractor

        return BertFeatureExtractor(folder, device=self.device, dtype=self.dtype)

    def _load_hubert(self, folder: str | Path | None) -> object:
        if folder is None or not Path(folder).is_dir():
            raise EngineError(f"{folder}: HuBERT folder not found (needed to encode reference audio)")
        from GPT_SoVITS.features.hubert import HubertFeatureExtractor

        return HubertFeatureExtractor(folder, device=self.device, dtype=self.dtype)

    def set_gpt_weights(self, path: str | Path) -> None:
        """Switch GPT weights; raises CheckpointError / EngineError and keeps the old ones on failure."""
        gpt = self._load_gpt(path)
        with self._swap:
            self.gpt = gpt

    def set_sovits_weights(self, path: str | Path) -> None:
        """Switch SoVITS weights (reference tokens depend on them: the cache key includes the path)."""
        sovits = self._load_sovits(path)
        with self._swap:
            self.sovits = sovits
            self._frontends.clear()

    # -- facts -----------------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.sovits.output_rate

    @property
    def languages(self) -> tuple[str, ...]:
        return languages_for(self.sovits.symbol_version)

    def describe(self) -> dict:
        return {
            "gpt": self.gpt.path,
            "sovits": self.sovits.path,
            "version": self.sovits.version,
            "symbol_version": self.sovits.symbol_version,
            "sample_rate": self.sample_rate,
            "device": str(self.device),
            "precision": str(self.dtype).removeprefix("torch."),
            "gpt_step_precision": self.step_precision,
            "gpt_backend": self.gpt_backend.name,
            "languages": list(self.languages),
        }

    # -- per-reference and per-text work (cached) ------------------------------------------------------
    def frontend(self, symbol_version: str) -> Frontend:
        if symbol_version not in self._frontends:
            self._frontends[symbol_version] = Frontend(symbol_version, self.bert)
        return self._frontends[symbol_version]

    def prepare_reference(self, path: str | Path, sovits: SoVITSModel | None = None) -> PreparedReference:
        """Prompt tokens + spectrogram of a reference clip, cached by content hash and SoVITS weights."""
        sovits = sovits or self.sovits
        if not Path(path).is_file():
            raise ReferenceError(path, "reference audio not found")
        digest = file_digest(path)
        key = (digest, sovits.path, str(self.device), str(self.dtype))
        return self.references.get_or_make(key, lambda: self._make_reference(path, digest, sovits))

    @torch.inference_mode()
    def _make_reference(self, path: str | Path, digest: str, sovits: SoVITSModel) -> PreparedReference:
        rates = (16000, sovits.sampling_rate) + ((sovits.cfm.mel_rate,) if sovits.cfm is not None else ())
        (wav16k, wav_sr, *wav_mel), window = windowed_reference(path, rates)
        # Official quirk: 0.3 x the SoVITS rate of zeros (9600 samples = 0.6 s at 16 kHz) end the prompt.
        wav16k = torch.cat([torch.from_numpy(wav16k), torch.zeros(int(sovits.sampling_rate * 0.3))])
        ssl = self.hubert.features(wav16k).to(self.dtype)  # [1, 768, frames]
        codes = sovits.model.extract_latent(ssl)  # [1, n_q, frames // 2]
        audio = torch.from_numpy(wav_sr)[None]
        peak = float(audio.abs().max())
        if peak > 1:
            audio = audio / min(2.0, peak)  # official normalisation of hot references
        spec_ = spectrogram_torch(
            audio,
            sovits.filter_length,
            sovits.sampling_rate,
            sovits.hop_length,
            sovits.win_length,
            center=False,
        )
        mel_wav = torch.from_numpy(wav_mel[0]).float() if wav_mel else None
        sv_emb = None
        if sovits.sv is not None:  # official: the normalised reference, resampled to 16 kHz, unpadded
            sv_in = resample(audio[0].float().numpy(), sovits.sampling_rate, 16000)
            sv_emb = sovits.sv.embed(sv_in).float().cpu()  # [1, 20480]
        return PreparedReference(
            digest, codes[0, 0].long().cpu(), spec_.float().cpu(), window, mel_wav=mel_wav, sv_emb=sv_emb
        )

    def prompt_phonemes(self, text: str, lang: str, symbol_version: str) -> Phonemes:
        key = (text, lang, symbol_version)
        return self.prompts.get_or_make(key, lambda: self.frontend(symbol_version)(text, lang))

    # -- synthesis -------------------------------------------------------------------------------------
    def synthesize(self, request: TTSRequest) -> SynthesisResult:
        """The whole request at once (streaming_mode is ignored here)."""
        from GPT_SoVITS.inference.pipeline import Pipeline

        return Pipeline(self, request).run()

    def stream(self, request: TTSRequest) -> Iterator[AudioChunk]:
        """Audio chunks as soon as they exist: per segment (streaming_mode 0/1) or per token chunk (2/3)."""
        from GPT_SoVITS.inference.pipeline import Pipeline

        return Pipeline(self, request).stream()
