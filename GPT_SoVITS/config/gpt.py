"""GPT (stage 1) training config: the official ``configs/s1longer-v2.yaml`` defaults as typed dataclasses.

v1 differs only in ``model.phoneme_vocab_size`` (512, ``s1longer.yaml``). ``to_dict()`` is the plain dict an
exported ``.ckpt`` stores as ``config`` (``models.gpt.build_gpt`` reads its ``model`` section).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GPTTrainConfig:
    seed: int = 1234
    epochs: int = 20
    batch_size: int = 8
    save_every_n_epoch: int = 1
    precision: str = "16-mixed"  # official Lightning precision string; ours comes from --precision
    gradient_clip: float = 1.0  # max global grad norm
    accumulate_grad_batches: int = 4  # official training_step steps the optimiser every 4 batches


@dataclass
class GPTOptimizerConfig:
    lr: float = 0.01  # peak lr (ScaledAdam scale: relative to each parameter's RMS)
    lr_init: float = 0.00001  # lr at step 0 of the warmup
    lr_end: float = 0.0001  # lr at the end of the cosine decay
    warmup_steps: int = 2000  # optimiser steps of linear warmup
    decay_steps: int = 40000  # optimiser step where the cosine decay ends


@dataclass
class GPTDataConfig:
    max_eval_sample: int = 8
    max_sec: int = 54  # items with more semantic tokens than max_sec * 25 are dropped
    num_workers: int = 4
    pad_val: int = 1024  # semantic padding value (= EOS)
    min_ps_ratio: float = 3  # phonemes per second below this: dropped
    max_ps_ratio: float = 25  # phonemes per second above this: dropped


@dataclass
class GPTModelConfig:
    vocab_size: int = 1025
    phoneme_vocab_size: int = 732
    embedding_dim: int = 512
    hidden_dim: int = 512
    head: int = 16
    linear_units: int = 2048  # unused by the official model (the FFN is always 4 * hidden_dim)
    n_layer: int = 24
    dropout: float = 0
    EOS: int = 1024
    random_bert: int = 0


@dataclass
class GPTConfig:
    train: GPTTrainConfig = field(default_factory=GPTTrainConfig)
    optimizer: GPTOptimizerConfig = field(default_factory=GPTOptimizerConfig)
    data: GPTDataConfig = field(default_factory=GPTDataConfig)
    model: GPTModelConfig = field(default_factory=GPTModelConfig)
    inference: dict[str, Any] = field(default_factory=lambda: {"top_k": 15})
    extra: dict[str, Any] = field(default_factory=dict)  # unknown top-level keys, kept verbatim

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else dict(value)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GPTConfig:
        sections = {
            "train": GPTTrainConfig,
            "optimizer": GPTOptimizerConfig,
            "data": GPTDataConfig,
            "model": GPTModelConfig,
        }
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in d.items():
            if key in sections:
                known = {f.name for f in dataclasses.fields(sections[key])}
                kwargs[key] = sections[key](**{k: v for k, v in dict(value).items() if k in known})
            elif key == "inference":
                kwargs[key] = dict(value)
            else:
                extra[key] = value
        return cls(**kwargs, extra=extra)


def default_gpt_config(version: str = "v2") -> GPTConfig:
    """Official defaults for ``version`` (v1: 512-entry phoneme embedding as in s1longer.yaml)."""
    cfg = GPTConfig()
    if version == "v1":
        cfg.model = dataclasses.replace(cfg.model, phoneme_vocab_size=512)
    return cfg
