"""DiT velocity estimator of the v3/v4 conditional flow matching model (``cfm.estimator``).

Attribute names equal the official F5-TTS-derived classes so ``state_dict()`` keys match official files.
Shapes use (B, T, C) inside the transformer; the public ``forward`` takes (B, C, T) like the official one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class DiTConfig:
    """Sizes of the DiT; the official v3/v4 values are the defaults (``DiT(dim=1024, depth=22, ...)``)."""

    dim: int = 1024  # transformer width
    depth: int = 22  # number of DiT blocks
    heads: int = 16  # attention heads (dim_head each)
    dim_head: int = 64  # per-head width; also the rotary width (rotary_embed.inv_freq has dim_head/2 rows)
    ff_mult: int = 2  # feed-forward width = dim * ff_mult
    mel_dim: int = 100  # mel bins predicted
    text_dim: int = 512  # width of the content features mu
    conv_layers: int = 4  # ConvNeXt-V2 blocks on mu
    freq_embed_dim: int = 256  # sinusoidal time-embedding width
    conv_pos_groups: int = 16  # groups of the convolutional position embedding
    conv_pos_kernel: int = 31
    max_text_pos: int = 4096  # rows of the fixed sin/cos table added to mu


# -- position embeddings ---------------------------------------------------------------------------------


def sinus_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """t [B] -> [B, dim]: (sin | cos) of scale * t * 10000^(-i / (dim/2 - 1))."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device).float() * -(math.log(10000) / (half - 1)))
    arg = scale * t.unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat((arg.sin(), arg.cos()), dim=-1)


def text_position_table(dim: int, length: int, theta: float = 10000.0) -> torch.Tensor:
    """Fixed table [length, dim] = (cos | sin) of position * theta^(-2i/dim), added to mu."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    angles = torch.outer(torch.arange(length).float(), freqs)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class RotaryEmbedding(nn.Module):
    """Rotary position angles over ``dim`` channels with interleaved pairs (x-transformers' convention).

    ``inv_freq`` is a persistent buffer (it is in official state dicts)."""

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)))

    def angles(self, seq_len: int) -> torch.Tensor:
        """[1, T, dim]: each frequency repeated for the two channels of its pair."""
        t = torch.arange(seq_len, device=self.inv_freq.device).type_as(self.inv_freq)
        freqs = torch.einsum("i,j->ij", t, self.inv_freq)
        return torch.stack((freqs, freqs), dim=-1).flatten(-2).unsqueeze(0)


def _rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate the first ``angles.shape[-1]`` channels of x [B, T, C]; the rest pass unchanged.

    Applied before the head split as the official code does, so only the first head is rotated."""
    rot = angles.shape[-1]
    head, tail = x[..., :rot], x[..., rot:]
    head = head * angles.cos() + _rotate_pairs(head) * angles.sin()
    return torch.cat((head, tail), dim=-1)


# -- blocks ----------------------------------------------------------------------------------------------


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int, freq_embed_dim: int = 256) -> None:
        super().__init__()
        self.freq_embed_dim = freq_embed_dim
        self.time_mlp = nn.Sequential(nn.Linear(freq_embed_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """t [B] in [0, 1] -> [B, dim]."""
        return self.time_mlp(sinus_embedding(t, self.freq_embed_dim).to(t.dtype))


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt-V2) over time of x [B, T, C]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=1, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.grn = GRN(intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, C] -> [B, T, C]."""
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        h = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(h)))))
        return x + h


class TextEmbedding(nn.Module):
    """mu (content features) + fixed position table, through ConvNeXt-V2 blocks."""

    def __init__(self, text_dim: int, conv_layers: int, max_pos: int, conv_mult: int = 2) -> None:
        super().__init__()
        self.max_pos = max_pos
        self.conv_layers = conv_layers
        if conv_layers > 0:
            self.register_buffer("freqs_cis", text_position_table(text_dim, max_pos), persistent=False)
            self.text_blocks = nn.Sequential(
                *[ConvNeXtV2Block(text_dim, text_dim * conv_mult) for _ in range(conv_layers)]
            )

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        """text [B, T, text_dim] -> [B, T, text_dim]; positions past the table reuse its last row."""
        if self.conv_layers == 0:
            return text
        pos = torch.arange(text.shape[1], device=text.device).clamp(max=self.max_pos - 1)
        return self.text_blocks(text + self.freqs_cis[pos])


class ConvPositionEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1d = nn.Sequential(
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad),
            nn.Mish(),
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad),
            nn.Mish(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1d(x.transpose(1, 2)).transpose(1, 2)


class InputEmbedding(nn.Module):
    def __init__(self, mel_dim: int, text_dim: int, out_dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.proj = nn.Linear(mel_dim * 2 + text_dim, out_dim)
        self.conv_pos_embed = ConvPositionEmbedding(out_dim, kernel, groups)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, text_embed: torch.Tensor) -> torch.Tensor:
        x = self.proj(torch.cat((x, cond, text_embed), dim=-1))
        return self.conv_pos_embed(x) + x


class AdaLayerNormZero(nn.Module):
    """LayerNorm modulated by the time embedding; returns the attention input and the FF modulation."""

    def __init__(self, dim: int, chunks: int = 6) -> None:
        super().__init__()
        self.chunks = chunks
        self.linear = nn.Linear(dim, dim * chunks)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        params = torch.chunk(self.linear(F.silu(emb)), self.chunks, dim=1)
        if self.chunks == 2:  # final layer: (scale, shift)
            scale, shift = params
            return (self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :],)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = params
        x = self.norm(x) * (1 + scale_msa[:, None]) + shift_msa[:, None]
        return x, gate_msa, shift_mlp, scale_mlp, gate_mlp


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(self, x: torch.Tensor, mask: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """x [B, T, dim], mask [B, T] bool (True = valid frame), angles [1, T, rot]."""
        b = x.shape[0]
        q = apply_rotary(self.to_q(x), angles)
        k = apply_rotary(self.to_k(x), angles)
        v = self.to_v(x)
        q, k, v = (t.view(b, -1, self.heads, t.shape[-1] // self.heads).transpose(1, 2) for t in (q, k, v))
        attn_mask = mask[:, None, None, :].expand(b, self.heads, q.shape[-2], k.shape[-2])
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        out = self.to_out[0](out.transpose(1, 2).reshape(b, -1, q.shape[1] * q.shape[-1]))
        return out.masked_fill(~mask.unsqueeze(-1), 0.0)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        inner = int(dim * mult)
        # official layout: Sequential(Sequential(Linear, GELU), Dropout, Linear) -> keys ff.0.0 and ff.2
        self.ff = nn.Sequential(
            nn.Sequential(nn.Linear(dim, inner), nn.GELU(approximate="tanh")),
            nn.Dropout(0.0),
            nn.Linear(inner, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff(x)


class DiTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, ff_mult: int) -> None:
        super().__init__()
        self.attn_norm = AdaLayerNormZero(dim)
        self.attn = Attention(dim, heads, dim_head)
        self.ff_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(dim, ff_mult)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, angles: torch.Tensor
    ) -> torch.Tensor:
        norm, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.attn_norm(x, t)
        x = x + gate_msa.unsqueeze(1) * self.attn(norm, mask, angles)
        norm = self.ff_norm(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        return x + gate_mlp.unsqueeze(1) * self.ff(norm)


class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.time_embed = TimestepEmbedding(cfg.dim, cfg.freq_embed_dim)
        self.d_embed = TimestepEmbedding(cfg.dim, cfg.freq_embed_dim)
        self.text_embed = TextEmbedding(cfg.text_dim, cfg.conv_layers, cfg.max_text_pos)
        self.input_embed = InputEmbedding(
            cfg.mel_dim, cfg.text_dim, cfg.dim, cfg.conv_pos_kernel, cfg.conv_pos_groups
        )
        self.rotary_embed = RotaryEmbedding(cfg.dim_head)
        self.transformer_blocks = nn.ModuleList(
            [DiTBlock(cfg.dim, cfg.heads, cfg.dim_head, cfg.ff_mult) for _ in range(cfg.depth)]
        )
        self.norm_out = AdaLayerNormZero(cfg.dim, chunks=2)
        self.proj_out = nn.Linear(cfg.dim, cfg.mel_dim)

    def embed_text(self, mu: torch.Tensor) -> torch.Tensor:
        """mu [B, T, text_dim] -> its embedding; constant over the sampling steps, so callers cache it."""
        return self.text_embed(mu)

    def forward(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        x_lens: torch.Tensor,
        time: torch.Tensor,
        dt: torch.Tensor,
        text_embed: torch.Tensor,
    ) -> torch.Tensor:
        """Velocity [B, T, mel] of x [B, mel, T] given the prompt mel cond [B, mel, T], lengths [B],
        time / step size [B] and the embedded content ``embed_text(mu)`` [B, T, text_dim]."""
        x, cond = x.transpose(1, 2), cond.transpose(1, 2)
        seq_len = x.shape[1]
        mask = torch.arange(seq_len, device=x.device)[None, :] < x_lens[:, None]
        t = self.time_embed(time) + self.d_embed(dt)
        h = self.input_embed(x, cond, text_embed)
        angles = self.rotary_embed.angles(seq_len)
        for block in self.transformer_blocks:
            h = block(h, t, mask, angles)
        return self.proj_out(self.norm_out(h, t)[0])
