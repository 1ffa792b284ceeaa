"""The GPT text-to-semantic model (official ``Text2SemanticDecoder``), rebuilt from a checkpoint config.

Attribute names follow the official module so that ``state_dict()`` keys equal the official checkpoints
(``bert_proj``, ``ar_text_embedding.word_embeddings``, ``ar_text_position.alpha``, ``ar_audio_*``,
``h.layers.<i>.{self_attn.in_proj_weight, ..., linear1, linear2, norm1, norm2}``, ``ar_predict_layer``).

The sequence fed to the transformer is ``[text (Nx) | semantic (Ny)]``: text positions see all text and no
audio, audio positions see all text and the causal audio prefix. Decoding loops live in ``decode.py``,
training losses in ``training.py``; this file holds the layers and the shared building blocks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from GPT_SoVITS.models.gpt import fastpath
from GPT_SoVITS.models.gpt.cache import KVCache
from GPT_SoVITS.models.gpt.fastpath import (
    StepWeights,
    decode_layers,
    decode_layers_numpy,
    prefill_layers_numpy,
)
from GPT_SoVITS.models.gpt.training import build_training_input, train_loss, train_loss_dpo


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
        """x (B, T, D); mask bool, True = may attend, broadcastable to (B, H, T, S). With a cache (the
        inference prefill) a float32 CPU run goes through numpy, as the per-token step does."""
        if cache is not None and self._numpy_ok(x):
            weights = self.step_weights()
            if weights.arrays is not None:
                pos = cache.length
                if pos + x.shape[1] > cache.max_len:
                    raise RuntimeError(f"KV cache full: {pos + x.shape[1]} positions needed, {cache.max_len}")
                with fastpath.one_torch_thread(x.device):
                    out = prefill_layers_numpy(
                        x.detach().numpy(),
                        cache.k,
                        cache.v,
                        pos,
                        weights.heads,
                        weights.arrays,
                        weights.eps,
                        mask,
                    )
                cache.advance(x.shape[1])
                return torch.from_numpy(out)
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, cache, i)
        if cache is not None:
            cache.advance(x.shape[1])
        return x

    def _numpy_ok(self, x: torch.Tensor) -> bool:
        """The numpy fast path applies: inference (no grad, eval) on a float32 CPU tensor."""
        return (
            fastpath.NUMPY_STEP
            and not self.training
            and not torch.is_grad_enabled()
            and x.device.type == "cpu"
            and x.dtype == torch.float32
        )

    def step_weights(self, precision: str = "fp32") -> StepWeights:
        """Every layer's tensors for :meth:`forward_one`, gathered on first use and kept with the model.

        The matrix copies cost a weight-sized buffer (half for bf16/fp16) and tens of ms to make; they are
        remade only when a parameter changed since (another storage after ``.to()`` / ``load_state_dict``
        into new tensors, or an in-place update, which bumps the tensor's version counter).
        """
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in self.parameters())
        kept = self.__dict__.setdefault("_step_weights", {})  # a plain attribute: not in state_dict
        if precision not in kept or kept[precision][0] != key:
            kept[precision] = (key, StepWeights.of(self, precision))
        return kept[precision][1]

    def forward_one(
        self,
        x: torch.Tensor,
        cache: KVCache,
        weights: StepWeights | None = None,
        key_ok: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Inference for one new position per row: x (B, D) -> (B, D), the same math as :meth:`forward`.

        The decoding hot path (``fastpath``): numpy for a float32 model on CPU (``fastpath.NUMPY_STEP``),
        TorchScript otherwise; keys and values written straight into the cache. key_ok: (B, >=
        cache.length + 1) bool, False for keys no query may see (left padding).
        """
        weights = weights if weights is not None else self.step_weights()
        pos = cache.length
        if pos >= cache.max_len:
            raise RuntimeError(f"KV cache full: {cache.max_len} positions allocated")
        if weights.arrays is not None and self._numpy_ok(x):
            ok = None if key_ok is None else key_ok[:, : pos + 1].detach().numpy()
            k, v = cache.k.detach().numpy(), cache.v.detach().numpy()
            out = decode_layers_numpy(
                x.detach().float().numpy(), k, v, pos, weights.heads, weights.arrays, weights.eps, ok
            )
            x = torch.from_numpy(out).to(x.dtype)
        else:
            mask = None if key_ok is None else key_ok[:, None, None, : pos + 1]
            x = decode_layers()(
                x, cache.k, cache.v, pos, weights.heads, weights.tensors, weights.eps, mask, weights.lowp
            )
        cache.advance(1)
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

    def step_logits(
        self,
        token: torch.Tensor,
        position: int,
        cache: KVCache,
        weights: StepWeights,
        key_ok: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One decoding step: tokens (B, 1) at audio position ``position`` -> the next logits (B, V).

        ``embed_audio`` -> ``h.forward_one`` -> ``logits``; where the step runs in numpy (float32 on CPU)
        the embedding row and the output product do too (a row gather and one 2-thread product instead of
        ~10 torch ops and a one-thread MKL product).
        """
        head = self._numpy_head() if weights.arrays is not None else None
        if head is None or not self.h._numpy_ok(self.ar_predict_layer.weight):
            emb = self.embed_audio(token, start=position)[:, 0]  # (B, E)
            return self.logits(self.h.forward_one(emb, cache, weights, key_ok))
        table, pe, alpha, proj = head
        if position >= pe.shape[0]:
            raise ValueError(
                f"sequence position {position + 1} exceeds the {pe.shape[0]}-row positional table"
            )
        x = table[token.numpy()[:, 0]]
        x += alpha * pe[position]  # official order: x + alpha * pe (dropout is the identity in eval)
        hidden = self.h.forward_one(torch.from_numpy(x), cache, weights, key_ok)
        return torch.from_numpy(hidden.numpy() @ proj)

    def _numpy_head(self) -> tuple[np.ndarray, np.ndarray, np.float32, np.ndarray] | None:
        """(audio embedding table, positional table, alpha, output matrix (in, out) copy) as float32 numpy
        arrays for the numpy step, made on first use and remade when a parameter changed; None unless the
        model is float32 on CPU."""
        w = self.ar_predict_layer.weight
        if w.dtype != torch.float32 or w.device.type != "cpu":
            return None
        table = self.ar_audio_embedding.word_embeddings.weight
        alpha = self.ar_audio_position.alpha
        key = tuple((t.data_ptr(), t._version) for t in (w, table, alpha))
        kept = self.__dict__.get("_head_arrays")
        if kept is None or kept[0] != key:
            with torch.no_grad():
                arrays = (
                    table.detach().numpy(),
                    self.ar_audio_position.pe.numpy(),
                    np.float32(alpha.detach().item()),
                    w.detach().t().contiguous().numpy(),
                )
            kept = self.__dict__["_head_arrays"] = (key, arrays)
        return kept[1]

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

    def forward_logits(
        self,
        x: torch.Tensor,
        x_lens: torch.Tensor,
        y: torch.Tensor,
        y_lens: torch.Tensor,
        bert_feature: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits for every position, as the official training input builder.

        Returns (logits (B, Nx + Ny, V), targets (B, Ny)); row Nx + j predicts targets[:, j].
        """
        xy, mask, targets = build_training_input(self, x, x_lens, y, y_lens, bert_feature)
        return self.logits(self.h(xy, mask)), targets

    def forward_train(
        self,
        x: torch.Tensor,
        x_lens: torch.Tensor,
        y: torch.Tensor,
        y_lens: torch.Tensor,
        bert_feature: torch.Tensor,
    ) -> tuple[torch.Tensor, float]:
        """Official training step (``forward_old``): summed cross entropy with EOS targets, top-3 accuracy."""
        return train_loss(self, x, x_lens, y, y_lens, bert_feature)

    def forward_train_dpo(
        self,
        x: torch.Tensor,
        x_lens: torch.Tensor,
        y: torch.Tensor,
        y_lens: torch.Tensor,
        bert_feature: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, float]:
        """Official DPO training step (``forward``): cross entropy + a reference-free DPO term."""
        return train_loss_dpo(self, x, x_lens, y, y_lens, bert_feature, generator)
