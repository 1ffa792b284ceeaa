"""HiFi-GAN-style waveform decoder ``dec``: latent frames [B, inter, T] -> audio [B, 1, T * prod(rates)]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from GPT_SoVITS.models.sovits.commons import LRELU_SLOPE, fold_weight_norms, weight_norm
from GPT_SoVITS.models.sovits.modules import ResBlock1, ResBlock2


class Generator(nn.Module):
    def __init__(
        self,
        initial_channel: int,
        resblock: str,
        resblock_kernel_sizes: Sequence[int],
        resblock_dilation_sizes: Sequence[Sequence[int]],
        upsample_rates: Sequence[int],
        upsample_initial_channel: int,
        upsample_kernel_sizes: Sequence[int],
        gin_channels: int = 0,
        post_bias: bool = False,  # the v4 vocoder's conv_post has a bias (official ``is_bias=True``)
    ) -> None:
        super().__init__()
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        self.num_kernels = len(resblock_kernel_sizes)
        self.conv_pre = nn.Conv1d(initial_channel, upsample_initial_channel, 7, 1, padding=3)
        block_cls = ResBlock1 if str(resblock) == "1" else ResBlock2

        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = upsample_initial_channel
        for i, (rate, kernel) in enumerate(zip(upsample_rates, upsample_kernel_sizes, strict=True)):
            ch_in, ch = upsample_initial_channel // (2**i), upsample_initial_channel // (2 ** (i + 1))
            up = nn.ConvTranspose1d(ch_in, ch, kernel, rate, padding=(kernel - rate) // 2)
            self.ups.append(weight_norm(up))
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True):
                self.resblocks.append(block_cls(ch, k, tuple(d)))
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3, bias=post_bias)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, upsample_initial_channel, 1)

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, inter, T], g [B, gin, 1] -> wav [B, 1, T * prod(upsample_rates)] in [-1, 1]."""
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            xs = blocks[0](x)
            for block in blocks[1:]:
                xs = xs + block(x)
            x = xs / self.num_kernels
        # the official decoder uses the default slope (0.01) here, not LRELU_SLOPE
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)

    def remove_weight_norm(self) -> None:
        """Fold every weight norm into plain weights (the official method; see ``fold_weight_norms``)."""
        fold_weight_norms(self)
