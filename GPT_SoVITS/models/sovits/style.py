"""Reference (timbre) encoder: MelStyleEncoder from Meta-StyleSpeech, as SoVITS ``ref_enc``.

Maps a reference spectrogram [B, n_bins, T] to a global style vector ``ge`` [B, style_vector_dim, 1].
Attribute names (``spectral.0.fc``, ``temporal.0.conv1.conv``, ``slf_attn.w_qs``, ``fc.fc``) follow the
official checkpoints.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class LinearNorm(nn.Module):
    """A Linear layer under the attribute ``fc`` (the checkpoint key layout)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Mish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tanh(F.softplus(x))


class ConvNorm(nn.Module):
    """A 'same'-padded Conv1d under the attribute ``conv``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"ConvNorm kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Conv1dGLU(nn.Module):
    """Conv1d to 2C channels, gated linear unit, residual connection ([B, C, T] -> [B, C, T])."""

    def __init__(self, channels: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.channels = channels
        self.conv1 = ConvNorm(channels, 2 * channels, kernel_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = torch.split(self.conv1(x), self.channels, dim=1)
        return x + self.dropout(a * torch.sigmoid(gate))


class StyleAttention(nn.Module):
    """Multi-head self-attention on [B, T, C] with Linear projections and a residual connection.

    As in the original, scores are divided by sqrt(d_model) (not sqrt(head_dim)).
    """

    def __init__(self, n_head: int, d_model: int, dropout: float) -> None:
        super().__init__()
        self.n_head = n_head
        self.head_dim = d_model // n_head
        self.temperature = math.sqrt(d_model)
        self.w_qs = nn.Linear(d_model, d_model)
        self.w_ks = nn.Linear(d_model, d_model)
        self.w_vs = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(dropout)
        self.fc = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # [B, T, H*D] -> [H*B, T, D] (head-major, as the masks are repeated per head)
        b, t, _ = x.shape
        return x.view(b, t, self.n_head, self.head_dim).permute(2, 0, 1, 3).reshape(-1, t, self.head_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T, C]; mask [B, T, T] bool, True = blocked."""
        b, t, _ = x.shape
        q, k, v = self._heads(self.w_qs(x)), self._heads(self.w_ks(x)), self._heads(self.w_vs(x))
        scores = torch.bmm(q, k.transpose(1, 2)) / self.temperature
        if mask is not None:
            scores = scores.masked_fill(mask.repeat(self.n_head, 1, 1), -math.inf)
        attn = self.attn_drop(torch.softmax(scores, dim=2))
        out = torch.bmm(attn, v).view(self.n_head, b, t, self.head_dim)
        out = out.permute(1, 2, 0, 3).reshape(b, t, -1)
        return self.dropout(self.fc(out)) + x


class MelStyleEncoder(nn.Module):
    """Spectral MLP -> two gated temporal convs -> self-attention -> linear -> masked mean over time."""

    def __init__(
        self,
        n_mel_channels: int = 80,
        style_hidden: int = 128,
        style_vector_dim: int = 256,
        style_kernel_size: int = 5,
        style_head: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_dim = n_mel_channels
        self.spectral = nn.Sequential(
            LinearNorm(n_mel_channels, style_hidden),
            Mish(),
            nn.Dropout(dropout),
            LinearNorm(style_hidden, style_hidden),
            Mish(),
            nn.Dropout(dropout),
        )
        self.temporal = nn.Sequential(
            Conv1dGLU(style_hidden, style_kernel_size, dropout),
            Conv1dGLU(style_hidden, style_kernel_size, dropout),
        )
        self.slf_attn = StyleAttention(style_head, style_hidden, dropout)
        self.fc = LinearNorm(style_hidden, style_vector_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, n_bins, T]; mask [B, 1, T] float (1 = valid) -> [B, style_vector_dim, 1]."""
        x = x.transpose(1, 2)  # [B, T, n_bins]
        pad = (mask.int() == 0).squeeze(1) if mask is not None else None  # [B, T], True = padding
        attn_mask = pad.unsqueeze(1).expand(-1, x.shape[1], -1) if pad is not None else None
        x = self.spectral(x)
        x = self.temporal(x.transpose(1, 2)).transpose(1, 2)
        if pad is not None:
            x = x.masked_fill(pad.unsqueeze(-1), 0)
        x = self.fc(self.slf_attn(x, mask=attn_mask))
        return self._masked_mean(x, pad).unsqueeze(-1)

    @staticmethod
    def _masked_mean(x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        """Mean over time of x [B, T, C] ignoring padded frames; divides before summing (official order)."""
        if pad is None:
            return torch.mean(x, dim=1)
        lengths = (~pad).sum(dim=1).unsqueeze(1)  # [B, 1]
        dtype = x.dtype
        x = x.masked_fill(pad.unsqueeze(-1), 0).float()
        return torch.div(x, lengths.unsqueeze(1)).sum(dim=1).to(dtype)
