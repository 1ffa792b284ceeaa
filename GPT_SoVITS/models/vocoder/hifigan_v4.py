"""The v4 vocoder: the SoVITS HiFi-GAN ``Generator`` on 100-bin mels, 480 samples per frame (48 kHz).

The official constructor call is hard-coded (``TTS.init_vocoder``); the widths and kernel sizes are read
back from the state dict here (the upsampling rates and dilations are not visible in shapes and keep
the official values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from GPT_SoVITS.models.sovits.generator import Generator


@dataclass(frozen=True)
class V4VocoderConfig:
    num_mels: int = 100
    upsample_initial_channel: int = 512
    upsample_rates: tuple[int, ...] = (10, 6, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (20, 12, 4, 4, 4)
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    sampling_rate: int = 48000

    @property
    def hop(self) -> int:
        return math.prod(self.upsample_rates)

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor]) -> V4VocoderConfig:
        """Widths and kernels from the shapes (``conv_pre.weight`` is [channels, mels, 7])."""
        base = cls()
        n_ups = len({k.split(".")[1] for k in sd if k.startswith("ups.")})
        n_blocks = len({k.split(".")[1] for k in sd if k.startswith("resblocks.")})
        if n_ups != len(base.upsample_rates) or n_blocks % n_ups:
            raise ValueError(
                f"{n_ups} upsampling layers and {n_blocks} resblocks; the v4 vocoder has "
                f"{len(base.upsample_rates)} upsampling layers and a multiple of that of resblocks"
            )
        per_up = n_blocks // n_ups
        return cls(
            num_mels=int(sd["conv_pre.weight"].shape[1]),
            upsample_initial_channel=int(sd["conv_pre.weight"].shape[0]),
            upsample_kernel_sizes=tuple(int(sd[f"ups.{i}.weight"].shape[2]) for i in range(n_ups)),
            resblock_kernel_sizes=tuple(
                int(sd[f"resblocks.{j}.convs1.0.weight"].shape[2]) for j in range(per_up)
            ),
            resblock_dilation_sizes=base.resblock_dilation_sizes[:per_up],
        )


def build_v4_vocoder(cfg: V4VocoderConfig) -> Generator:
    """A ``Generator`` with weight norm already folded (the official loader removes it before loading)."""
    gen = Generator(
        cfg.num_mels,
        "1",
        list(cfg.resblock_kernel_sizes),
        [list(d) for d in cfg.resblock_dilation_sizes],
        list(cfg.upsample_rates),
        cfg.upsample_initial_channel,
        list(cfg.upsample_kernel_sizes),
        gin_channels=0,
        post_bias=True,
    )
    gen.remove_weight_norm()
    return gen
