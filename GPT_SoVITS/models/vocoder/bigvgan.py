"""BigVGAN v2 vocoder (the v3 vocoder, 24 kHz): mel [B, 100, T] -> audio [B, 1, T * prod(rates)].

Anti-aliased periodic activations (SnakeBeta between 2x kaiser-sinc up- and down-sampling). Every size
comes from the folder's ``config.json`` (``BigVGANConfig.from_json``); attribute names equal the official
ones so the state dict of ``bigvgan_generator.pt`` loads strictly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from GPT_SoVITS.models.sovits.commons import fold_weight_norms, get_padding, weight_norm


@dataclass(frozen=True)
class BigVGANConfig:
    """The architecture fields of BigVGAN's config.json (defaults: nvidia/bigvgan_v2_24khz_100band_256x)."""

    num_mels: int = 100
    upsample_rates: tuple[int, ...] = (4, 4, 2, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (8, 8, 4, 4, 4, 4)
    upsample_initial_channel: int = 1536
    resblock: str = "1"  # "1": AMPBlock1 (two convs per dilation), "2": AMPBlock2
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    activation: str = "snakebeta"  # "snake" | "snakebeta"
    snake_logscale: bool = True  # alpha/beta stored as logarithms
    use_tanh_at_final: bool = True  # False: clamp to [-1, 1] instead
    use_bias_at_final: bool = True
    sampling_rate: int = 24000

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BigVGANConfig:
        """Fields of a config.json (unknown training fields ignored; absent ones take BigVGAN's defaults)."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "resblock_dilation_sizes":
                value = tuple(tuple(int(d) for d in ds) for ds in value)
            elif isinstance(value, list):
                value = tuple(int(v) for v in value)
            kwargs[f.name] = value
        return cls(**kwargs)

    @property
    def hop(self) -> int:
        return math.prod(self.upsample_rates)


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Kaiser-windowed sinc low-pass [1, 1, kernel_size], normalised to unit sum (alias-free GAN)."""
    half = kernel_size // 2
    delta_f = 4 * half_width
    a = 2.285 * (half - 1) * math.pi * delta_f + 7.95
    if a > 50.0:
        beta = 0.1102 * (a - 8.7)
    elif a >= 21.0:
        beta = 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, beta=beta, periodic=False)
    time = torch.arange(-half, half) + 0.5 if kernel_size % 2 == 0 else torch.arange(kernel_size) - half
    filt = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return (filt / filt.sum()).view(1, 1, kernel_size)


class UpSample1d(nn.Module):
    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio = ratio
        self.pad = kernel_size // ratio - 1
        self.pad_left = self.pad * ratio + (kernel_size - ratio) // 2
        self.pad_right = self.pad * ratio + (kernel_size - ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        x = self.ratio * F.conv_transpose1d(x, self.filter.expand(c, -1, -1), stride=self.ratio, groups=c)
        return x[..., self.pad_left : -self.pad_right]


class LowPassFilter1d(nn.Module):
    def __init__(self, cutoff: float, half_width: float, stride: int, kernel_size: int) -> None:
        super().__init__()
        self.pad_left = kernel_size // 2 - int(kernel_size % 2 == 0)
        self.pad_right = kernel_size // 2
        self.stride = stride
        self.register_buffer("filter", kaiser_sinc_filter(cutoff, half_width, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter.expand(c, -1, -1), stride=self.stride, groups=c)


class DownSample1d(nn.Module):
    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, ratio, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class Snake(nn.Module):
    """x + 1/beta * sin^2(alpha x), per channel (beta = alpha for plain Snake); log-scale parameters."""

    def __init__(self, channels: int, logscale: bool, with_beta: bool) -> None:
        super().__init__()
        self.logscale = logscale
        init = torch.zeros(channels) if logscale else torch.ones(channels)
        self.alpha = nn.Parameter(init.clone())
        if with_beta:
            self.beta = nn.Parameter(init.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha[None, :, None]
        beta = self.beta[None, :, None] if hasattr(self, "beta") else alpha
        if self.logscale:
            alpha, beta = torch.exp(alpha), torch.exp(beta)
        return x + (1.0 / (beta + 1e-9)) * torch.pow(torch.sin(x * alpha), 2)


class Activation1d(nn.Module):
    """Anti-aliased activation: 2x upsample, activation, 2x downsample."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.act = act
        self.upsample = UpSample1d(2, 12)
        self.downsample = DownSample1d(2, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))


def _activation(cfg: BigVGANConfig, channels: int) -> Activation1d:
    if cfg.activation not in ("snake", "snakebeta"):
        raise ValueError(f"BigVGAN activation must be 'snake' or 'snakebeta', got {cfg.activation!r}")
    return Activation1d(Snake(channels, cfg.snake_logscale, cfg.activation == "snakebeta"))


class AMPBlock(nn.Module):
    """Residual block of anti-aliased activations and dilated convs (type "1": + a dilation-1 conv each)."""

    def __init__(self, cfg: BigVGANConfig, channels: int, kernel: int, dilation: Sequence[int]) -> None:
        super().__init__()
        self.two_convs = cfg.resblock == "1"

        def conv(d: int) -> nn.Module:
            return weight_norm(
                nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=get_padding(kernel, d))
            )

        if self.two_convs:
            self.convs1 = nn.ModuleList([conv(d) for d in dilation])
            self.convs2 = nn.ModuleList([conv(1) for _ in dilation])
        else:
            self.convs = nn.ModuleList([conv(d) for d in dilation])
        n_acts = 2 * len(dilation) if self.two_convs else len(dilation)
        self.activations = nn.ModuleList([_activation(cfg, channels) for _ in range(n_acts)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.two_convs:
            acts1, acts2 = self.activations[::2], self.activations[1::2]
            for c1, c2, a1, a2 in zip(self.convs1, self.convs2, acts1, acts2, strict=True):
                x = c2(a2(c1(a1(x)))) + x
            return x
        for c, a in zip(self.convs, self.activations, strict=True):
            x = c(a(x)) + x
        return x


class BigVGAN(nn.Module):
    def __init__(self, cfg: BigVGANConfig) -> None:
        super().__init__()
        if cfg.resblock not in ("1", "2"):
            raise ValueError(f"BigVGAN resblock must be '1' or '2', got {cfg.resblock!r}")
        self.cfg = cfg
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        ch0 = cfg.upsample_initial_channel
        self.conv_pre = weight_norm(nn.Conv1d(cfg.num_mels, ch0, 7, 1, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True)):
            ch = ch0 // (2 ** (i + 1))
            up = nn.ConvTranspose1d(ch0 // (2**i), ch, kernel, rate, padding=(kernel - rate) // 2)
            self.ups.append(nn.ModuleList([weight_norm(up)]))
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes, strict=True):
                self.resblocks.append(AMPBlock(cfg, ch, k, d))
        ch = ch0 // (2 ** len(cfg.upsample_rates))
        self.activation_post = _activation(cfg, ch)
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3, bias=cfg.use_bias_at_final))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [B, num_mels, T] (log mel) -> audio [B, 1, T * hop] in [-1, 1]."""
        x = self.conv_pre(mel)
        for i, ups in enumerate(self.ups):
            for up in ups:
                x = up(x)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            xs = blocks[0](x)
            for block in blocks[1:]:
                xs = xs + block(x)
            x = xs / self.num_kernels
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.cfg.use_tanh_at_final else torch.clamp(x, -1.0, 1.0)

    def remove_weight_norm(self) -> None:
        fold_weight_norms(self)
