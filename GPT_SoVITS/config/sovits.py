"""SoVITS (stage 2) training config: the official ``configs/s2.json`` defaults as typed dataclasses.

``to_dict()`` gives the nested plain dict that checkpoints store (``data`` + ``model`` sections are what
``models.sovits.build_sovits`` reads); ``from_dict()`` accepts such a dict (official or ours) and keeps
unknown keys in ``extra`` so nothing an official file carries is lost on a round trip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SECTION_EXTRA = "_section_extra"


@dataclass
class SoVITSTrainConfig:
    log_interval: int = 100  # steps between TensorBoard scalars
    eval_interval: int = 500  # kept for file compatibility (the official loop never evaluates)
    seed: int = 1234
    epochs: int = 100
    learning_rate: float = 1e-4  # AdamW lr of G and D
    betas: list[float] = field(default_factory=lambda: [0.8, 0.99])
    eps: float = 1e-9
    batch_size: int = 32
    fp16_run: bool = True  # official: mixed precision on CUDA; ignored on CPU
    lr_decay: float = 0.999875  # ExponentialLR gamma, one step per epoch
    segment_size: int = 20480  # samples of the random decoder slice (32 frames at hop 640)
    init_lr_ratio: float = 1
    warmup_epochs: int = 0
    c_mel: float = 45  # weight of the L1 mel loss
    c_kl: float = 1.0  # weight of the KL term
    text_low_lr_rate: float = 0.4  # lr factor for enc_p.text_embedding / encoder_text / mrte
    grad_ckpt: bool = False


@dataclass
class SoVITSDataConfig:
    max_wav_value: float = 32768.0
    sampling_rate: int = 32000  # Hz
    filter_length: int = 2048  # n_fft
    hop_length: int = 640  # samples per spectrogram frame (50 Hz at 32 kHz)
    win_length: int = 2048
    n_mel_channels: int = 128
    mel_fmin: float = 0.0
    mel_fmax: float | None = None
    add_blank: bool = True
    n_speakers: int = 300
    cleaned_text: bool = True


@dataclass
class SoVITSModelConfig:
    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.1
    resblock: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(
        default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
    )
    upsample_rates: list[int] = field(default_factory=lambda: [10, 8, 2, 2, 2])
    upsample_initial_channel: int = 512
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 8, 2, 2])
    n_layers_q: int = 3
    use_spectral_norm: bool = False
    gin_channels: int = 512
    semantic_frame_rate: str = "25hz"
    freeze_quantizer: bool = True
    version: str = "v2"


@dataclass
class SoVITSConfig:
    train: SoVITSTrainConfig = field(default_factory=SoVITSTrainConfig)
    data: SoVITSDataConfig = field(default_factory=SoVITSDataConfig)
    model: SoVITSModelConfig = field(default_factory=SoVITSModelConfig)
    s2_ckpt_dir: str = "logs/s2/big2k1"
    content_module: str = "cnhubert"
    # keys of an official file this class does not model (e.g. ``name``, ``pretrain``), kept verbatim
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict in the official key layout (extras merged back in)."""
        out = {k: v for k, v in self.extra.items() if k != SECTION_EXTRA}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
        for section, values in self.extra.get(SECTION_EXTRA, {}).items():
            out[section] = {**out[section], **values}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SoVITSConfig:
        """Build from an official/our config dict; unknown section keys are kept, unknown top keys too."""
        sections = {"train": SoVITSTrainConfig, "data": SoVITSDataConfig, "model": SoVITSModelConfig}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in d.items():
            if key in sections:
                kwargs[key] = _section(sections[key], value, extra, key)
            elif key in ("s2_ckpt_dir", "content_module"):
                kwargs[key] = value
            else:
                extra[key] = value
        return cls(**kwargs, extra=extra)


def _section(kind: type, values: Mapping[str, Any], extra: dict[str, Any], name: str) -> Any:
    known = {f.name for f in dataclasses.fields(kind)}
    obj = kind(**{k: v for k, v in dict(values).items() if k in known})
    unknown = {k: v for k, v in dict(values).items() if k not in known}
    if unknown:
        # unknown keys of a section survive in extra[SECTION_EXTRA][section] so to_dict restores them
        extra.setdefault(SECTION_EXTRA, {})[name] = unknown
    return obj
