"""Multi-period discriminator of SoVITS training (the official v1/v2 ``s2D`` layout).

``discriminators.0`` is a scale discriminator on the raw waveform; ``discriminators.1..`` are period
discriminators (periods 2, 3, 5, 7, 11) that fold the waveform into [T / p, p] images.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from GPT_SoVITS.models.sovits.commons import LRELU_SLOPE, get_padding, weight_norm

DEFAULT_PERIODS = (2, 3, 5, 7, 11)

Features = list[torch.Tensor]


def _norm(use_spectral_norm: bool):
    return spectral_norm if use_spectral_norm else weight_norm


class DiscriminatorP(nn.Module):
    def __init__(
        self, period: int, kernel_size: int = 5, stride: int = 3, use_spectral_norm: bool = False
    ) -> None:
        super().__init__()
        self.period = period
        norm = _norm(use_spectral_norm)
        pad = (get_padding(kernel_size, 1), 0)
        widths = [1, 32, 128, 512, 1024, 1024]
        self.convs = nn.ModuleList(
            norm(nn.Conv2d(c_in, c_out, (kernel_size, 1), (stride if i < 4 else 1, 1), padding=pad))
            for i, (c_in, c_out) in enumerate(itertools.pairwise(widths))
        )
        self.conv_post = norm(nn.Conv2d(1024, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Features]:
        """x [B, 1, T] -> (scores [B, N], feature maps)."""
        fmap = []
        b, c, t = x.shape
        if t % self.period:  # reflect-pad to a multiple of the period
            n_pad = self.period - t % self.period
            x = F.pad(x, (0, n_pad), "reflect")
            t += n_pad
        x = x.view(b, c, t // self.period, self.period)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class DiscriminatorS(nn.Module):
    def __init__(self, use_spectral_norm: bool = False) -> None:
        super().__init__()
        norm = _norm(use_spectral_norm)
        self.convs = nn.ModuleList(
            [
                norm(nn.Conv1d(1, 16, 15, 1, padding=7)),
                norm(nn.Conv1d(16, 64, 41, 4, groups=4, padding=20)),
                norm(nn.Conv1d(64, 256, 41, 4, groups=16, padding=20)),
                norm(nn.Conv1d(256, 1024, 41, 4, groups=64, padding=20)),
                norm(nn.Conv1d(1024, 1024, 41, 4, groups=256, padding=20)),
                norm(nn.Conv1d(1024, 1024, 5, 1, padding=2)),
            ]
        )
        self.conv_post = norm(nn.Conv1d(1024, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Features]:
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, use_spectral_norm: bool = False, periods: Sequence[int] = DEFAULT_PERIODS) -> None:
        super().__init__()
        discs: list[nn.Module] = [DiscriminatorS(use_spectral_norm)]
        discs += [DiscriminatorP(p, use_spectral_norm=use_spectral_norm) for p in periods]
        self.discriminators = nn.ModuleList(discs)

    def forward(
        self, y: torch.Tensor, y_hat: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[Features], list[Features]]:
        """Real y and generated y_hat [B, 1, T] -> (real scores, fake scores, real fmaps, fake fmaps)."""
        real_scores, fake_scores, real_fmaps, fake_fmaps = [], [], [], []
        for disc in self.discriminators:
            score_r, fmap_r = disc(y)
            score_g, fmap_g = disc(y_hat)
            real_scores.append(score_r)
            fake_scores.append(score_g)
            real_fmaps.append(fmap_r)
            fake_fmaps.append(fmap_g)
        return real_scores, fake_scores, real_fmaps, fake_fmaps
