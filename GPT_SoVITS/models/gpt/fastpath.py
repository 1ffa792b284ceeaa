"""The torch backend's per-token step through all layers (TorchScript), and the weights every step reads.

Decoding one token should cost reading the weights once (310 MB at full size). Each product has a single
row, so its speed is the matrix-vector kernel's streaming rate. :func:`decode_layers` is the math of
``TransformerLayer.forward`` for one new position per row, compiled with TorchScript on first use (about
500 small operations; Python would add 20-30 % on a 2-core CPU), with the matrices optionally in bf16/fp16
(:data:`PRECISIONS`). :func:`decode_layers_eager` is the same function run by Python, used when scripting
is unavailable and by the tests. The float32 CPU step of the numpy backend is in ``numpy_step``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from GPT_SoVITS.models.gpt.model import TransformerStack

log = logging.getLogger(__name__)

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


def step_weights(stack: TransformerStack, precision: str = "fp32") -> StepWeights:
    """Every layer's tensors for the per-token steps, gathered on first use and kept with the model.

    The matrix copies cost a weight-sized buffer (half for bf16/fp16) and tens of ms to make; they are
    remade only when a parameter changed since (another storage after ``.to()`` / ``load_state_dict`` into
    new tensors, or an in-place update, which bumps the tensor's version counter). Two threads asking at
    once may both build them; either result is the same.
    """
    key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in stack.parameters())
    kept = stack.__dict__.setdefault("_step_weights", {})  # a plain attribute: not in state_dict
    found = kept.get(precision)
    if found is None or found[0] != key:
        found = kept[precision] = (key, StepWeights.of(stack, precision))
    return found[1]
