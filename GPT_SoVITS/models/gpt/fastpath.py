"""The per-token decoding step through all layers: numpy on CPU in float32, TorchScript otherwise.

Decoding one token should cost reading the weights once (310 MB at full size). Each product has a single
row, so its speed is the matrix-vector kernel's streaming rate:
- CPU, float32 (the default): :func:`decode_layers_numpy`. torch's CPU build sends a one-row product to
  MKL, which runs it on one thread (~15 GB/s here, whatever the thread setting); numpy's OpenBLAS splits
  the same product over the cores (~26 GB/s on 2 cores) and a numpy call costs ~1 us against a few for a
  torch op, so the step took 15 ms instead of 23 ms per token at full size (2-core Zen 4). The small
  work between the products (attention over the cache, bias, residual, norms, ReLU) runs in compiled
  numba kernels (``kernels``; plain numpy where numba is unusable): another ~1 ms per token.
- otherwise (CUDA, or the opt-in bf16/fp16 step): :func:`decode_layers`, the same math compiled with
  TorchScript on first use (about 500 small operations; Python would add 20-30 % on a 2-core CPU).
All three are exactly the math of ``TransformerLayer.forward`` (equal within float32 rounding);
:func:`decode_layers_eager` is the TorchScript function run by Python, used when scripting is unavailable
and by the tests.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from GPT_SoVITS.models.gpt import kernels

if TYPE_CHECKING:
    from GPT_SoVITS.models.gpt.model import TransformerStack

log = logging.getLogger(__name__)


# The float32 CPU step runs in numpy (see the module text); False forces TorchScript (tests, benchmarks).
NUMPY_STEP = True

# per-token matrix precision: "fp32" keeps the model's dtype (exact); the others are opt-in, lossy
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class StepWeights(NamedTuple):
    """Every layer's tensors in a fixed order."""

    heads: int
    tensors: list[list[torch.Tensor]]  # per layer: in_w, in_b, out_w, out_b, ff1_w, ff1_b, ff2_w, ff2_b,
    #                                    norm1_w, norm1_b, norm2_w, norm2_b (matrices: copies, see `of`)
    eps: list[float]  # per layer: norm1 eps, norm2 eps (flattened)
    lowp: bool  # matrices are (out, in) copies in another dtype than fp32: inputs are cast per product
    arrays: list[list[np.ndarray]] | None  # numpy views of ``tensors`` (float32 on CPU only), else None

    @classmethod
    def of(cls, stack: TransformerStack, precision: str = "fp32") -> StepWeights:
        """Gather the tensors; the matrices are copied for the run, as fits ``precision``.

        fp32 (the model's own dtype): for a float32 model, (in, out) contiguous transposed copies, except
        the second feed-forward matrix, a transposed view of the (out, in) parameter (no copy). With one
        row per step the product is memory-bound; OpenBLAS (the numpy step) streamed the 512-wide-output
        products at 29-34 GB/s in (in, out) and 22-25 in (out, in), and the 2048 -> 512 one at 30-32 in
        (out, in) and 22 in (in, out) (2 cores); MKL (the TorchScript step) also prefers (in, out).
        bf16/fp16, or a model already in another dtype: (out, in) copies in that dtype for F.linear, the
        fastest layout measured for them on an AVX-512 CPU without AMX (24 layers' matrices, one thread:
        fp16 9.4 ms, bf16 20.4 ms, fp32 19.4 ms; fp16 through addmm with (in, out) took 147 ms). Layer
        norms, residuals, attention and the cache stay in the model's dtype.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        dtype = PRECISIONS[precision]
        if dtype is None and stack.layers[0].linear1.weight.dtype != torch.float32:
            dtype = stack.layers[0].linear1.weight.dtype  # a half model: (in, out) fp16 addmm was 15x slower
        tensors, eps = [], []
        with torch.no_grad():
            for layer in stack.layers:
                a = layer.self_attn

                def m(w: torch.Tensor) -> torch.Tensor:
                    w = w.detach()
                    return w.t().contiguous() if dtype is None else w.to(dtype).contiguous()

                def v(b: torch.Tensor) -> torch.Tensor:
                    return b.detach() if dtype is None else b.detach().to(dtype)

                ff2 = layer.linear2.weight.detach().t() if dtype is None else m(layer.linear2.weight)
                tensors.append([
                    m(a.in_proj_weight), v(a.in_proj_bias), m(a.out_proj.weight), v(a.out_proj.bias),
                    m(layer.linear1.weight), v(layer.linear1.bias), ff2, v(layer.linear2.bias),
                    layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias,
                ])  # fmt: skip
                eps += [float(layer.norm1.eps), float(layer.norm2.eps)]
        arrays = None
        if dtype is None and tensors[0][0].device.type == "cpu":  # views: no extra memory
            arrays = [[t.detach().numpy() for t in layer] for layer in tensors]
        return cls(stack.layers[0].self_attn.num_heads, tensors, eps, dtype is not None, arrays)


def _product(b: torch.Tensor, x: torch.Tensor, w: torch.Tensor, lowp: bool) -> torch.Tensor:
    """x (B, in) times a StepWeights matrix plus bias, in x's dtype."""
    if lowp:
        return F.linear(x.to(w.dtype), w, b).to(x.dtype)
    return torch.addmm(b, x, w)


def decode_layers_eager(
    x: torch.Tensor,
    k_all: torch.Tensor,
    v_all: torch.Tensor,
    pos: int,
    heads: int,
    weights: list[list[torch.Tensor]],
    eps: list[float],
    key_ok: torch.Tensor | None,
    lowp: bool = False,
) -> torch.Tensor:
    """x (B, D) at position ``pos`` -> (B, D); writes keys/values into k_all/v_all (L, B, H, S_max, Dh).

    key_ok: (B, 1, 1, pos + 1) bool, False for keys no query may see, or None.
    """
    b = x.shape[0]
    d = x.shape[1]
    dh = d // heads
    scale = float(dh) ** -0.5
    n_max = k_all.shape[3]
    for i in range(len(weights)):
        w = weights[i]
        qkv = _product(w[1], x, w[0], lowp).view(b, 3, heads, dh)
        k_all[i, :, :, pos] = qkv[:, 1]
        v_all[i, :, :, pos] = qkv[:, 2]
        # (B*H, S, Dh) strided views of the cache; one query per head: two batched matmuls read them in
        # place (the fused CPU SDPA kernel gains nothing here and its 2-thread split cost 3-4x more)
        k = k_all[i].view(b * heads, n_max, dh)[:, : pos + 1]
        v = v_all[i].view(b * heads, n_max, dh)[:, : pos + 1]
        q = qkv[:, 0].reshape(b * heads, 1, dh)
        scores = torch.bmm(q, k.transpose(1, 2)).mul_(scale)  # (B*H, 1, S)
        if key_ok is not None:
            scores = (
                scores.view(b, heads, 1, pos + 1).masked_fill(~key_ok, float("-inf")).view(b * heads, 1, -1)
            )
        att = torch.bmm(scores.softmax(-1), v).view(b, d)
        x = F.layer_norm(x + _product(w[3], att, w[2], lowp), [d], w[8], w[9], eps[2 * i])
        ff = _product(w[7], F.relu_(_product(w[5], x, w[4], lowp)), w[6], lowp)
        x = F.layer_norm(x + ff, [d], w[10], w[11], eps[2 * i + 1])
    return x


@functools.cache
def decode_layers() -> Callable[..., torch.Tensor]:
    """The scripted step (compiled once per process, on first use), or the eager one if scripting fails."""
    try:
        return torch.jit.script(decode_layers_eager)
    except Exception as e:  # an unusual torch build: the eager function gives the same numbers
        log.warning("TorchScript unavailable for the GPT decode step (%s); running it eagerly", e)
        return decode_layers_eager


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """F.layer_norm over the last axis (biased variance), in place on x (B, D)."""
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


def _after_attention(
    att: np.ndarray, x: np.ndarray, w: list[np.ndarray], eps1: float, eps2: float
) -> np.ndarray:
    """The rest of a layer on (N, D) rows: output projection, residual + norm1, ReLU feed-forward,
    residual + norm2. The small work between the products runs in the compiled kernels where they load."""
    compiled = kernels.load()
    out = att @ w[2]
    if compiled is not None:
        compiled.add_norm(out, w[3], x, w[8], w[9], eps1)
        ff = out @ w[4]
        compiled.bias_relu(ff, w[5])
        y = ff @ w[6]
        compiled.add_norm(y, w[7], out, w[10], w[11], eps2)
        return y
    out += w[3]
    out += x
    x = _layer_norm(out, w[8], w[9], eps1)
    ff = x @ w[4]
    ff += w[5]
    np.maximum(ff, 0, out=ff)
    out = ff @ w[6]
    out += w[7]
    out += x
    return _layer_norm(out, w[10], w[11], eps2)


def decode_layers_numpy(
    x: np.ndarray,
    k_all: np.ndarray,
    v_all: np.ndarray,
    pos: int,
    heads: int,
    weights: list[list[np.ndarray]],
    eps: list[float],
    key_ok: np.ndarray | None,
) -> np.ndarray:
    """:func:`decode_layers_eager` in numpy, float32: x (B, D) -> (B, D); arrays share memory with tensors.

    k_all/v_all: (L, B, H, S_max, Dh) views of the cache, written at ``pos``. key_ok: (B, pos + 1) bool,
    False for keys no query may see, or None. weights: ``StepWeights.arrays`` ((in, out) matrices).
    """
    b, d = x.shape
    dh = d // heads
    scale = np.float32(float(dh) ** -0.5)
    x = np.ascontiguousarray(x)
    compiled = kernels.load()
    if compiled is not None:  # attention over the cache in one compiled call per layer
        ok = np.ascontiguousarray(key_ok) if key_ok is not None else np.ones((b, 0), np.bool_)
        att = np.empty((b, d), np.float32)
        for i, w in enumerate(weights):
            qkv = x @ w[0]
            compiled.attend(qkv, w[1], k_all, v_all, i, pos, scale, ok, att)
            x = _after_attention(att, x, w, eps[2 * i], eps[2 * i + 1])
        return x
    hidden = key_ok is None or bool(key_ok.all())
    for i, w in enumerate(weights):
        qkv = x @ w[0]
        qkv += w[1]
        qkv = qkv.reshape(b, 3, heads, dh)
        k_all[i, :, :, pos] = qkv[:, 1]
        v_all[i, :, :, pos] = qkv[:, 2]
        k = k_all[i, :, :, : pos + 1]  # (B, H, S, Dh); per head a contiguous block: BLAS reads it in place
        v = v_all[i, :, :, : pos + 1]
        scores = np.matmul(k, qkv[:, 0, :, :, None])[..., 0]  # (B, H, S)
        scores *= scale
        if not hidden:
            scores[~np.broadcast_to(key_ok[:, None, :], scores.shape)] = -np.inf
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(-1, keepdims=True)
        att = np.matmul(scores[:, :, None, :], v).reshape(b, d)  # (B, H, 1, Dh) -> (B, D)
        x = _after_attention(att, x, w, eps[2 * i], eps[2 * i + 1])
    return x


def prefill_layers_numpy(
    x: np.ndarray,
    k_all: torch.Tensor,
    v_all: torch.Tensor,
    pos: int,
    heads: int,
    weights: list[list[np.ndarray]],
    eps: list[float],
    mask: torch.Tensor | None,
) -> np.ndarray:
    """``TransformerStack.forward`` with a cache, for T new positions per row, float32 on CPU.

    x (B, T, D) -> (B, T, D); keys/values are written into the cache tensors at ``pos`` .. ``pos + T - 1``.
    mask: bool, broadcastable to (B, H, T, pos + T), True = may attend, or None. The products go through
    numpy's BLAS like the per-token step's; attention is torch's fused kernel (about 1.5x numpy's four
    calls), which the caller runs on one thread (``one_torch_thread``): torch's OpenMP threads and
    OpenBLAS's spinning ones slowed each other by 30-40 % when a 2-thread torch prefill followed numpy
    steps (2 cores).
    """
    b, t, d = x.shape
    dh = d // heads
    k_np, v_np = k_all.numpy(), v_all.numpy()
    rows = x.reshape(b * t, d).copy()
    for i, w in enumerate(weights):
        qkv = rows @ w[0]
        qkv += w[1]
        qkv = qkv.reshape(b, t, 3, heads, dh)
        k_np[i, :, :, pos : pos + t] = qkv[:, :, 1].transpose(0, 2, 1, 3)
        v_np[i, :, :, pos : pos + t] = qkv[:, :, 2].transpose(0, 2, 1, 3)
        q = torch.from_numpy(np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3)))  # (B, H, T, Dh)
        k, v = k_all[i, :, :, : pos + t], v_all[i, :, :, : pos + t]
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).numpy()  # (B, H, T, Dh)
        rows = _after_attention(
            att.transpose(0, 2, 1, 3).reshape(b * t, d), rows, w, eps[2 * i], eps[2 * i + 1]
        )
    return rows.reshape(b, t, d)


@contextlib.contextmanager
def one_torch_thread(device: torch.device) -> Iterator[None]:
    """torch's intra-op threads set to 1 inside the block (CPU only), the process setting restored after.

    The numpy paths give the cores to OpenBLAS; a torch op opening a 2-thread OpenMP region meanwhile
    waits for a core that OpenBLAS's worker is spinning on.
    """
    n = torch.get_num_threads()
    switch = device.type == "cpu" and n != 1
    if switch:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if switch:
            torch.set_num_threads(n)
