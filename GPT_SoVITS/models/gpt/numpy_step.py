"""The numpy backend's layers: ``TransformerLayer.forward`` in float32 numpy, for a prefill or one step.

Why numpy on CPU: decoding one token should cost reading the weights once (310 MB at full size), and each
product has a single row. torch's CPU build sends a one-row product to MKL, which runs it on one thread
(~15 GB/s here, whatever the thread setting); numpy's OpenBLAS splits the same product over the cores
(~26 GB/s on 2 cores) and a numpy call costs ~1 us against a few for a torch op, so the step took 15 ms
instead of 23 ms per token at full size (2-core Zen 4). The small work between the products (attention
over the cache, bias, residual, norms, ReLU) runs in compiled numba kernels when they are given
(``kernels.load()``), plain numpy otherwise: the same math, ~1 ms per token slower.

No torch op runs inside: the prefill's attention is numpy too (about 2 % of the prefill's work), so torch's
OpenMP threads never wait for a core OpenBLAS's workers are spinning on.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """F.layer_norm over the last axis (biased variance), in place on x (N, D)."""
    d = x.shape[1]
    if x.shape[0] == 1:  # the usual single row: scalar statistics, fewer calls
        row = x[0]
        row -= np.add.reduce(row) / d
        row *= w * (1.0 / math.sqrt(float(np.dot(row, row)) / d + eps))
        row += b
        return x
    x -= np.add.reduce(x, axis=1, keepdims=True) / d
    var = np.einsum("bd,bd->b", x, x)[:, None] / d
    x *= 1.0 / np.sqrt(var + eps)
    x *= w
    x += b
    return x


def after_attention(
    att: np.ndarray,
    x: np.ndarray,
    w: list[np.ndarray],
    eps: tuple[float, float],
    kernels: SimpleNamespace | None,
) -> np.ndarray:
    """The rest of a layer on (N, D) rows: output projection, residual + norm1, ReLU feed-forward,
    residual + norm2. x (the layer's input) is only read."""
    out = att @ w[2]
    if kernels is not None:
        kernels.add_norm(out, w[3], x, w[8], w[9], eps[0])
        ff = out @ w[4]
        kernels.bias_relu(ff, w[5])
        y = ff @ w[6]
        kernels.add_norm(y, w[7], out, w[10], w[11], eps[1])
        return y
    out += w[3]
    out += x
    x = layer_norm(out, w[8], w[9], eps[0])
    ff = x @ w[4]
    ff += w[5]
    np.maximum(ff, 0, out=ff)
    out = ff @ w[6]
    out += w[7]
    out += x
    return layer_norm(out, w[10], w[11], eps[1])


def attend(
    qkv: np.ndarray, k_all: np.ndarray, v_all: np.ndarray, pos: int, ok: np.ndarray | None
) -> np.ndarray:
    """Attention of T new positions per row over the cache of one layer, after writing their keys/values.

    qkv (B, T, 3, H, Dh) with its bias; k_all/v_all (B, H, S_max, Dh); ok bool broadcastable to
    (B, H, T, pos + T), True = may attend, or None. Returns (B, T, H * Dh).
    """
    b, t, _, heads, dh = qkv.shape
    k_all[:, :, pos : pos + t] = qkv[:, :, 1].transpose(0, 2, 1, 3)
    v_all[:, :, pos : pos + t] = qkv[:, :, 2].transpose(0, 2, 1, 3)
    k = k_all[:, :, : pos + t]  # (B, H, S, Dh); per head a contiguous block: BLAS reads it in place
    v = v_all[:, :, : pos + t]
    # keys times queries, not queries times transposed keys: numpy's matmul takes a transposed view off
    # BLAS (200x slower at prefill sizes), and a transposed copy of the keys would cost a cache read per step
    q_t = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 3, 1))  # (B, H, Dh, T)
    scores = np.ascontiguousarray(np.matmul(k, q_t).transpose(0, 1, 3, 2))  # (B, H, T, S)
    scores *= np.float32(float(dh) ** -0.5)
    if ok is not None:
        np.copyto(scores, np.float32(-np.inf), where=~ok)
    scores -= scores.max(-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(-1, keepdims=True)
    return np.matmul(scores, v).transpose(0, 2, 1, 3).reshape(b, t, heads * dh)


def numpy_layers(
    x: np.ndarray,
    k_all: np.ndarray,
    v_all: np.ndarray,
    pos: int,
    weights: list[list[np.ndarray]],
    eps: list[float],
    ok: np.ndarray | None,
    kernels: SimpleNamespace | None,
) -> np.ndarray:
    """Every layer on T new positions per row: x (B, T, D) float32 -> (B, T, D).

    k_all/v_all: (L, B, H, S_max, Dh) arrays sharing memory with the cache, written at pos .. pos + T - 1.
    weights/eps: ``StepWeights.arrays`` ((in, out) matrices) and ``.eps``. ok: bool broadcastable to
    (B, H, T, pos + T), True = may attend, or None. kernels: the compiled numba kernels or None; they do a
    one-position step's attention in one call per layer.
    """
    b, t, d = x.shape
    heads = k_all.shape[2]
    rows = np.ascontiguousarray(x.reshape(b * t, d))
    key_ok = None
    if kernels is not None and t == 1:  # the kernels' mask: (B, pos + 1), or (B, 0) for none
        key_ok = (
            np.ones((b, 0), np.bool_)
            if ok is None
            else np.ascontiguousarray(np.broadcast_to(ok, (b, 1, 1, pos + 1))[:, 0, 0])
        )
        att = np.empty((b, d), np.float32)
        scale = np.float32(float(d // heads) ** -0.5)
    for i, w in enumerate(weights):
        qkv = rows @ w[0]
        if key_ok is not None:
            kernels.attend(qkv, w[1], k_all, v_all, i, pos, scale, key_ok, att)  # adds the bias in place
        else:
            qkv += w[1]
            att = attend(qkv.reshape(b, t, 3, heads, d // heads), k_all[i], v_all[i], pos, ok)
            att = att.reshape(b * t, d)
        rows = after_attention(att, rows, w, (eps[2 * i], eps[2 * i + 1]), kernels)
    return rows.reshape(b, t, d)
