"""Transformer pieces of the SoVITS content/text encoders (VITS style, channels-first tensors [B, C, T]).

Self-attention uses learned relative-position embeddings over a window of +-``window_size`` frames,
shared by all heads (``emb_rel_k`` / ``emb_rel_v`` of shape [1, 2 * window + 1, head_dim]).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class LayerNorm(nn.Module):
    """Layer norm over the channel axis of a channels-first tensor; parameters named gamma/beta."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, -1)
        x = F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with 1x1 convolutions as projections.

    ``window_size`` None: plain (cross-)attention. Otherwise self-attention with relative positions.
    """

    def __init__(
        self,
        channels: int,
        out_channels: int,
        n_heads: int,
        p_dropout: float = 0.0,
        window_size: int | None = None,
    ) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"channels {channels} not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.head_dim = channels // n_heads
        self.window_size = window_size
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, out_channels, 1)
        self.drop = nn.Dropout(p_dropout)
        if window_size is not None:
            std = self.head_dim**-0.5
            self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.head_dim) * std)
            self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.head_dim) * std)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)

    def forward(
        self, x: torch.Tensor, c: torch.Tensor, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x: queries [B, C, Tq]; c: keys/values [B, C, Tk]; attn_mask [B, 1, Tq, Tk] (0 = blocked)."""
        q, k, v = self.conv_q(x), self.conv_k(c), self.conv_v(c)
        b, d, t_k = k.shape
        t_q = q.size(2)
        # [B, C, T] -> [B, heads, T, head_dim]
        q = q.view(b, self.n_heads, self.head_dim, t_q).transpose(2, 3)
        k = k.view(b, self.n_heads, self.head_dim, t_k).transpose(2, 3)
        v = v.view(b, self.n_heads, self.head_dim, t_k).transpose(2, 3)

        q_scaled = q / math.sqrt(self.head_dim)
        scores = torch.matmul(q_scaled, k.transpose(-2, -1))  # [B, H, Tq, Tk]
        if self.window_size is not None:
            if t_q != t_k:
                raise ValueError("relative attention needs self-attention (equal lengths)")
            rel_k = self._relative_embeddings(self.emb_rel_k, t_k)  # [1, 2T-1, D]
            rel_logits = torch.matmul(q_scaled, rel_k.unsqueeze(0).transpose(-2, -1))  # [B, H, T, 2T-1]
            scores = scores + _relative_to_absolute(rel_logits)
        if attn_mask is not None:
            scores = scores.masked_fill(attn_mask == 0, -1e4)
        p_attn = self.drop(F.softmax(scores, dim=-1))
        out = torch.matmul(p_attn, v)
        if self.window_size is not None:
            rel_v = self._relative_embeddings(self.emb_rel_v, t_k)
            out = out + torch.matmul(_absolute_to_relative(p_attn), rel_v.unsqueeze(0))
        out = out.transpose(2, 3).contiguous().view(b, d, t_q)
        return self.conv_o(out)

    def _relative_embeddings(self, table: torch.Tensor, length: int) -> torch.Tensor:
        """Rows of ``table`` for offsets -(length-1)..(length-1); zero rows beyond the window."""
        window = self.window_size
        assert window is not None
        pad = max(length - (window + 1), 0)
        start = max((window + 1) - length, 0)
        if pad > 0:
            table = F.pad(table, [0, 0, pad, pad])
        return table[:, start : start + 2 * length - 1]


def _relative_to_absolute(x: torch.Tensor) -> torch.Tensor:
    """[B, H, L, 2L-1] relative-offset logits -> [B, H, L, L] absolute positions (pad-and-reshape skew)."""
    batch, heads, length, _ = x.shape
    x = F.pad(x, [0, 1])
    flat = x.reshape(batch, heads, length * 2 * length)
    flat = F.pad(flat, [0, length - 1])
    return flat.view(batch, heads, length + 1, 2 * length - 1)[:, :, :length, length - 1 :]


def _absolute_to_relative(x: torch.Tensor) -> torch.Tensor:
    """[B, H, L, L] attention weights -> [B, H, L, 2L-1] indexed by relative offset."""
    batch, heads, length, _ = x.shape
    x = F.pad(x, [0, length - 1])
    flat = x.reshape(batch, heads, length**2 + length * (length - 1))
    flat = F.pad(flat, [length, 0])
    return flat.view(batch, heads, length, 2 * length)[:, :, :, 1:]


class FFN(nn.Module):
    """Two convolutions with 'same' padding and a ReLU between, masked before each conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        filter_channels: int,
        kernel_size: int,
        p_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, out_channels, kernel_size)
        self.drop = nn.Dropout(p_dropout)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel_size == 1:
            return x
        return F.pad(x, [(self.kernel_size - 1) // 2, self.kernel_size // 2])

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(self._pad(x * x_mask)))
        x = self.conv_2(self._pad(self.drop(x) * x_mask))
        return x * x_mask


class Encoder(nn.Module):
    """Post-norm transformer encoder: (relative self-attention, FFN) x n_layers."""

    def __init__(
        self,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int = 1,
        p_dropout: float = 0.0,
        window_size: int = 4,
    ) -> None:
        super().__init__()
        self.drop = nn.Dropout(p_dropout)
        self.attn_layers = nn.ModuleList()
        self.norm_layers_1 = nn.ModuleList()
        self.ffn_layers = nn.ModuleList()
        self.norm_layers_2 = nn.ModuleList()
        for _ in range(n_layers):
            self.attn_layers.append(
                MultiHeadAttention(hidden_channels, hidden_channels, n_heads, p_dropout, window_size)
            )
            self.norm_layers_1.append(LayerNorm(hidden_channels))
            self.ffn_layers.append(
                FFN(hidden_channels, hidden_channels, filter_channels, kernel_size, p_dropout=p_dropout)
            )
            self.norm_layers_2.append(LayerNorm(hidden_channels))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        """x [B, C, T], x_mask [B, 1, T] -> [B, C, T]."""
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)  # [B, 1, T, T]
        x = x * x_mask
        for attn, norm_1, ffn, norm_2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm_1(x + self.drop(attn(x, x, attn_mask)))
            x = norm_2(x + self.drop(ffn(x, x_mask)))
        return x * x_mask
