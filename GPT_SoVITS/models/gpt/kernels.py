"""Compiled (numba) pieces of the numpy backend's step (``numpy_step``): the work between the products.

Per layer and token the numpy step made ~40 small numpy calls around its four products (attention over
the cache per head, bias, residual, layer norms, ReLU), ~1.5 us each plus the temporaries; these kernels do
the same math in four calls of three kernels. Measured on the full-size v2 model (2-core Zen 4):
13.3-14.6 -> 12.2-13.2 ms per token, attention per layer 35 -> 30 us with warm caches.

Compiled on first use and cached on disk (numba's ``cache=True``: beside this file, or in the user's cache
folder where that is read-only). :func:`load` returns None where numba is missing or cannot compile, and
the numpy backend runs without them (the same math in plain numpy).

The loops unroll by 8 positions so that 8 dot products (or 8 value rows) are in flight at once; fastmath
allows reassociation only (no finite-math assumption: masked scores are -inf). The attention kernel is
written as three pieces (scores, softmax, weighted values) that numba inlines into it (``inline="always"``:
the same machine code as one function; outputs bit-equal to the single-function kernel it replaced).
"""

from __future__ import annotations

import functools
import logging
import math
import types
from types import SimpleNamespace

import numpy as np

log = logging.getLogger(__name__)

_FASTMATH = {"reassoc", "contract", "nsz"}


def _scores(kh, q, n, s):  # pragma: no cover - compiled
    """s[p] = kh[p] . q for the first ``n`` cached keys, 8 keys in flight at once."""
    dh = q.shape[0]
    p = 0
    while p + 8 <= n:
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.float32(0.0)
        for t in range(dh):
            qt = q[t]
            a0 += kh[p, t] * qt
            a1 += kh[p + 1, t] * qt
            a2 += kh[p + 2, t] * qt
            a3 += kh[p + 3, t] * qt
            a4 += kh[p + 4, t] * qt
            a5 += kh[p + 5, t] * qt
            a6 += kh[p + 6, t] * qt
            a7 += kh[p + 7, t] * qt
        s[p], s[p + 1], s[p + 2], s[p + 3] = a0, a1, a2, a3
        s[p + 4], s[p + 5], s[p + 6], s[p + 7] = a4, a5, a6, a7
        p += 8
    while p < n:
        acc = np.float32(0.0)
        for t in range(dh):
            acc += kh[p, t] * q[t]
        s[p] = acc
        p += 1


def _softmax(s, n, scale, ok, masked):  # pragma: no cover - compiled
    """In place over s[:n]: exp(scale * s - max), -inf where a mask row ``ok`` forbids; returns 1 / sum."""
    top = np.float32(-np.inf)
    for p in range(n):
        if masked and not ok[p]:
            s[p] = -np.inf
        else:
            s[p] *= scale
            top = max(top, s[p])
    total = np.float32(0.0)
    for p in range(n):
        e = np.exp(s[p] - top)
        s[p] = e
        total += e
    return np.float32(1.0) / total


def _weigh(s, inv, vh, n, out):  # pragma: no cover - compiled
    """out = sum over p < n of (s[p] * inv) * vh[p], 8 value rows in flight at once."""
    dh = out.shape[0]
    for t in range(dh):
        out[t] = 0.0
    p = 0
    while p + 8 <= n:
        w0, w1, w2, w3 = s[p] * inv, s[p + 1] * inv, s[p + 2] * inv, s[p + 3] * inv
        w4, w5, w6, w7 = s[p + 4] * inv, s[p + 5] * inv, s[p + 6] * inv, s[p + 7] * inv
        for t in range(dh):
            out[t] += (
                w0 * vh[p, t] + w1 * vh[p + 1, t] + w2 * vh[p + 2, t] + w3 * vh[p + 3, t]
                + w4 * vh[p + 4, t] + w5 * vh[p + 5, t] + w6 * vh[p + 6, t] + w7 * vh[p + 7, t]
            )  # fmt: skip
        p += 8
    while p < n:
        w0 = s[p] * inv
        for t in range(dh):
            out[t] += w0 * vh[p, t]
        p += 1


def _attend(qkv, in_bias, k_all, v_all, layer, pos, scale, key_ok, att):  # pragma: no cover - compiled
    """One query per row against the cache, for every head; writes the new key/value at ``pos``.

    qkv (B, 3D): the input projection without its bias (added here, in place); k_all/v_all
    (L, B, H, S_max, Dh); key_ok (B, >= pos + 1) bool, False for keys no query may see, or (B, 0) for
    none; att (B, D) receives the heads' outputs side by side. Compiled with its three pieces bound to
    their compiled versions (:func:`_compiled`).
    """
    rows, d3 = qkv.shape
    d = d3 // 3
    heads, dh = k_all.shape[2], k_all.shape[4]
    n = pos + 1
    masked = key_ok.shape[1] > 0
    s = np.empty(n, np.float32)
    for b in range(rows):
        for j in range(d3):
            qkv[b, j] += in_bias[j]
        for h in range(heads):
            kh, vh = k_all[layer, b, h], v_all[layer, b, h]
            for t in range(dh):
                kh[pos, t] = qkv[b, d + h * dh + t]
                vh[pos, t] = qkv[b, 2 * d + h * dh + t]
            _scores(kh, qkv[b, h * dh : (h + 1) * dh], n, s)
            inv = _softmax(s, n, scale, key_ok[b], masked)
            _weigh(s, inv, vh, n, att[b, h * dh : (h + 1) * dh])


def _add_norm(y, bias, resid, weight, shift, eps):  # pragma: no cover - compiled
    """In place: y = layer_norm(y + bias + resid) over each row (biased variance), as F.layer_norm."""
    rows, d = y.shape
    for r in range(rows):
        mean = np.float32(0.0)
        for i in range(d):
            v = y[r, i] + bias[i] + resid[r, i]
            y[r, i] = v
            mean += v
        mean /= d
        var = np.float32(0.0)
        for i in range(d):
            c = y[r, i] - mean
            y[r, i] = c
            var += c * c
        inv = np.float32(1.0 / math.sqrt(var / d + eps))
        for i in range(d):
            y[r, i] = y[r, i] * inv * weight[i] + shift[i]


def _bias_relu(y, bias):  # pragma: no cover - compiled
    """In place: y = max(y + bias, 0)."""
    rows, d = y.shape
    for r in range(rows):
        for i in range(d):
            v = y[r, i] + bias[i]
            y[r, i] = v if v > 0 else np.float32(0.0)


@functools.cache
def _compiled() -> SimpleNamespace | None:
    try:
        import numba

        jit = functools.partial(numba.njit, fastmath=_FASTMATH, nogil=True, cache=True)
        pieces = {f.__name__: jit(f, inline="always") for f in (_scores, _softmax, _weigh)}
        # _attend compiled against the compiled pieces (numba binds a global name when it compiles); the
        # module's plain functions stay plain Python, and numba's disk cache still applies
        attend = jit(types.FunctionType(_attend.__code__, {**_attend.__globals__, **pieces}, "_attend"))
        kernels = SimpleNamespace(attend=attend, add_norm=jit(_add_norm), bias_relu=jit(_bias_relu))
        _warm_up(kernels)  # compile (or load from the disk cache) now, for the array types the step uses
    except Exception as e:  # no numba, or a platform it cannot compile for: plain numpy does the same
        log.warning("numba kernels unavailable for the GPT decoding step (%s); using numpy", e)
        return None
    return kernels


def _warm_up(k: SimpleNamespace) -> None:
    """One call of each kernel on tiny arrays of the dtypes and layouts the step passes."""
    layers, rows, heads, dh = 1, 1, 2, 4
    d = heads * dh
    cache = np.zeros((2, layers, rows, heads, 8, dh), np.float32)
    att = np.empty((rows, d), np.float32)
    for ok in (np.ones((rows, 3), np.bool_), np.ones((rows, 0), np.bool_)):
        k.attend(np.ones((rows, 3 * d), np.float32), np.zeros(3 * d, np.float32), cache[0], cache[1],
                 0, 2, np.float32(0.5), ok, att)  # fmt: skip
    y = np.ones((rows, d), np.float32)
    k.add_norm(y, np.zeros(d, np.float32), att, np.ones(d, np.float32), np.zeros(d, np.float32), 1e-5)
    k.bias_relu(y, np.zeros(d, np.float32))


def load() -> SimpleNamespace | None:
    """The compiled kernels (attend, add_norm, bias_relu), or None where numba is unusable here."""
    return _compiled()
