"""The GPT text-to-semantic model (official ``Text2SemanticDecoder``), rebuilt from a checkpoint config.

Attribute names follow the official module so that ``state_dict()`` keys equal the official checkpoints
(``bert_proj``, ``ar_text_embedding.word_embeddings``, ``ar_text_position.alpha``, ``ar_audio_*``,
``h.layers.<i>.{self_attn.in_proj_weight, ..., linear1, linear2, norm1, norm2}``, ``ar_predict_layer``).

The sequence fed to the transformer is ``[text (Nx) | semantic (Ny)]``: text positions see all text and no
audio, audio positions see all text and the causal audio prefix (``attention_mask``). This file holds the
plain torch layers, the readable reference: training runs them (``training.py``), so does the prefill of
the ``torch`` decoding backend. Decoding loops live in ``decode.py``; the fast per-token layers, one per
backend, in ``fastpath.py`` (torch) and ``numpy_step.py`` (numpy + numba), chosen in ``backends.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from GPT_SoVITS.models.gpt.cache import KVCache


@dataclass(frozen=True)
class GPTDims:
    """Sizes of a GPT model; every field comes from the checkpoint ``config["model"]``."""

    embedding_dim: int  # token embedding / positional table width (official: equal to hidden_dim)
    hidden_dim: int  # transformer width
    num_heads: int  # attention heads ("head")
    num_layers: int  # transformer layers ("n_layer")
    vocab_size: int  # semantic codes + 1 (EOS is the last row)
    phoneme_vocab_size: int  # 512 rows for v1 symbols, 732 for v2
    eos: int  # EOS token id, always vocab_size - 1
    token_dropout: float = 0.0  # "dropout" in the config: dropout after the token embeddings
    dropout: float = 0.1  # hard-wired in the official layers (attention, residual, FFN, positions)
    bert_dim: int = 1024  # width of the BERT features (chinese-roberta-wwm-ext-large)
    ffn_mult: int = 4  # the FFN width is always 4 * hidden_dim; "linear_units" in configs is unused
    max_positions: int = 4000  # rows of the sine tables, as the official code precomputes

    @classmethod
    def from_config(cls, config: Mapping) -> GPTDims:
        """Read ``config["model"]`` of an official GPT checkpoint; a missing field raises KeyError."""
        model = config.get("model") if isinstance(config, Mapping) else None
        if not isinstance(model, Mapping):
            raise KeyError("GPT config has no 'model' section")

        def need(name: str) -> int:
            if name not in model:
                raise KeyError(f"GPT config field model.{name} is missing")
            return int(model[name])

        dims = cls(
            embedding_dim=need("embedding_dim"),
            hidden_dim=need("hidden_dim"),
            num_heads=need("head"),
            num_layers=need("n_layer"),
            vocab_size=need("vocab_size"),
            phoneme_vocab_size=need("phoneme_vocab_size"),
            eos=need("EOS"),
            token_dropout=float(model.get("dropout", 0.0) or 0.0),
        )
        if dims.eos != dims.vocab_size - 1:
            raise ValueError(f"GPT config: model.EOS ({dims.eos}) must be model.vocab_size - 1")
        if dims.hidden_dim % dims.num_heads:
            raise ValueError(
                f"GPT config: hidden_dim {dims.hidden_dim} not divisible by head {dims.num_heads}"
            )
        return dims


class TokenEmbedding(nn.Module):
    """``nn.Embedding`` under the official name ``word_embeddings``."""

    def __init__(self, dim: int, vocab_size: int, dropout: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.word_embeddings(ids))


class SinePositionalEmbedding(nn.Module):
    """``x + alpha * pe[start : start + T]`` with a learned scalar ``alpha`` (official: no x scaling)."""

    def __init__(self, dim: int, max_positions: int, dropout: float) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout(dropout)
        # computed in float32 as the official table; not stored in checkpoints
        position = torch.arange(max_positions, dtype=torch.float32).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * -(math.log(10000.0) / dim))
        pe = torch.zeros(max_positions, dim)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe, persistent=False)  # (max_positions, dim)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: (B, T, dim) -> (B, T, dim), positions start .. start+T-1."""
        end = start + x.shape[1]
        if end > self.pe.shape[0]:
            raise ValueError(f"sequence position {end} exceeds the {self.pe.shape[0]}-row positional table")
        return self.dropout(x + self.alpha * self.pe[start:end].to(x.dtype))


class SelfAttention(nn.Module):
    """Multi-head self-attention with the parameter layout of ``nn.MultiheadAttention`` (packed q/k/v)."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        """x: (B, T, D); mask: bool, True = may attend, broadcastable to (B, H, T, S).

        With a cache, the new keys/values are written at ``cache.length`` and the queries attend to the
        whole cached prefix plus themselves (S = cache.length + T).
        """
        b, t, d = x.shape
        h = self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(b, t, 3, h, d // h)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # (B, H, S, Dh) views of the preallocated buffer
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, H, T, Dh)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class TransformerLayer(nn.Module):
    """Post-norm encoder layer (official ``norm_first=False``): ReLU FFN of width ``ffn_mult * D``."""

    def __init__(self, dims: GPTDims) -> None:
        super().__init__()
        d = dims.hidden_dim
        self.self_attn = SelfAttention(d, dims.num_heads, dims.dropout)
        self.linear1 = nn.Linear(d, dims.ffn_mult * d)
        self.linear2 = nn.Linear(dims.ffn_mult * d, d)
        self.norm1 = nn.LayerNorm(d, eps=1e-5)
        self.norm2 = nn.LayerNorm(d, eps=1e-5)
        self.dropout = nn.Dropout(dims.dropout)
        self.dropout1 = nn.Dropout(dims.dropout)
        self.dropout2 = nn.Dropout(dims.dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, cache: KVCache | None, layer: int
    ) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.self_attn(x, mask, cache, layer)))
        ff = self.linear2(self.dropout(F.relu(self.linear1(x))))
        return self.norm2(x + self.dropout2(ff))


class TransformerStack(nn.Module):
    """The official ``h``: only ``layers`` holds parameters."""

    def __init__(self, dims: GPTDims) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(dims) for _ in range(dims.num_layers))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """x (B, T, D); mask bool, True = may attend, broadcastable to (B, H, T, S). With a cache the T new
        positions are appended to it (S = cache.length + T) and attend to everything cached before."""
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, cache, i)
        if cache is not None:
            cache.advance(x.shape[1])
        return x


class Text2SemanticDecoder(nn.Module):
    """Phoneme + BERT text encoder and an autoregressive semantic-token decoder in one transformer."""

    def __init__(self, dims: GPTDims) -> None:
        super().__init__()
        self.dims = dims
        e = dims.embedding_dim
        self.bert_proj = nn.Linear(dims.bert_dim, e)
        self.ar_text_embedding = TokenEmbedding(e, dims.phoneme_vocab_size, dims.token_dropout)
        self.ar_text_position = SinePositionalEmbedding(e, dims.max_positions, dims.dropout)
        self.ar_audio_embedding = TokenEmbedding(e, dims.vocab_size, dims.token_dropout)
        self.ar_audio_position = SinePositionalEmbedding(e, dims.max_positions, dims.dropout)
        self.h = TransformerStack(dims)
        self.ar_predict_layer = nn.Linear(dims.hidden_dim, dims.vocab_size, bias=False)

    @property
    def eos(self) -> int:
        return self.dims.eos

    def embed_text(self, x: torch.Tensor, bert_feature: torch.Tensor) -> torch.Tensor:
        """x: (B, Nx) phoneme ids, bert_feature: (B, 1024, Nx) -> (B, Nx, E) with positions."""
        emb = self.ar_text_embedding(x) + self.bert_proj(bert_feature.transpose(1, 2))
        return self.ar_text_position(emb)

    def embed_audio(self, y: torch.Tensor, start: int = 0) -> torch.Tensor:
        """y: (B, T) semantic ids at positions start .. start+T-1 -> (B, T, E)."""
        return self.ar_audio_position(self.ar_audio_embedding(y), start)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., vocab_size) float32: sampling and losses stay in float32 for fp16/bf16 models."""
        return self.ar_predict_layer(hidden).float()

    def new_cache(self, batch: int, max_len: int, device: torch.device | None = None) -> KVCache:
        """A preallocated key/value cache for ``max_len`` positions (text + prompt + generated)."""
        p = self.ar_predict_layer.weight
        d = self.dims
        return KVCache(
            d.num_layers,
            batch,
            d.num_heads,
            max_len,
            d.hidden_dim // d.num_heads,
            p.dtype,
            device or p.device,
        )


def attention_mask(nx: int, ny: int, device: torch.device | None = None) -> torch.Tensor:
    """(Nx+Ny, Nx+Ny) bool, True = may attend: text sees all text, audio sees text + causal audio."""
    allowed = torch.ones(nx + ny, nx + ny, dtype=torch.bool, device=device)
    allowed[:nx, nx:] = False
    allowed[nx:, nx:] = torch.ones(ny, ny, dtype=torch.bool, device=device).tril()
    return allowed


def pad_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool, True at padding (right padding)."""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) >= lengths.unsqueeze(1)
