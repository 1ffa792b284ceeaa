"""The per-token decoding step through all layers, compiled with TorchScript on first use.

Decoding one token should cost reading the weights once. At full size (24 layers) the step runs about 500
small tensor operations; from Python each costs a few microseconds more than from the TorchScript
interpreter, which is 20-30 % of the memory-bandwidth floor on a 2-core CPU. The math is exactly that of
``TransformerLayer.forward`` (equal within float32 rounding); :func:`decode_layers_eager` is the
same function run by Python, used when scripting is unavailable and by the tests.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from GPT_SoVITS.models.gpt.model import TransformerStack

log = logging.getLogger(__name__)


class StepWeights(NamedTuple):
    """Every layer's tensors in a fixed order (views of the parameters, not copies)."""

    heads: int
    tensors: list[list[torch.Tensor]]  # per layer: in_wT, in_b, out_wT, out_b, ff1_wT, ff1_b, ff2_wT, ff2_b,
    #                                    norm1_w, norm1_b, norm2_w, norm2_b (wT: transposed copies)
    eps: list[float]  # per layer: norm1 eps, norm2 eps (flattened)

    @classmethod
    def of(cls, stack: TransformerStack) -> StepWeights:
        """Gather the tensors; the matrices are copied transposed ((in, out), contiguous) for the run.

        With one row per step the product is memory-bound, and MKL streams an (in, out) matrix about 20 %
        faster than the (out, in) parameter (measured: 19.8 vs 25.2 ms per token for the full-size
        matrices, 2 threads). The copies cost one extra weight-sized buffer while decoding.
        """
        tensors, eps = [], []
        with torch.no_grad():
            for layer in stack.layers:
                a = layer.self_attn

                def t(w: torch.Tensor) -> torch.Tensor:
                    return w.detach().t().contiguous()

                tensors.append([
                    t(a.in_proj_weight), a.in_proj_bias, t(a.out_proj.weight), a.out_proj.bias,
                    t(layer.linear1.weight), layer.linear1.bias, t(layer.linear2.weight), layer.linear2.bias,
                    layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias,
                ])  # fmt: skip
                eps += [float(layer.norm1.eps), float(layer.norm2.eps)]
        return cls(stack.layers[0].self_attn.num_heads, tensors, eps)


def decode_layers_eager(
    x: torch.Tensor,
    k_all: torch.Tensor,
    v_all: torch.Tensor,
    pos: int,
    heads: int,
    weights: list[list[torch.Tensor]],
    eps: list[float],
    key_ok: torch.Tensor | None,
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
        qkv = torch.addmm(w[1], x, w[0]).view(b, 3, heads, dh)
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
        x = F.layer_norm(x + torch.addmm(w[3], att, w[2]), [d], w[8], w[9], eps[2 * i])
        ff = torch.addmm(w[7], F.relu_(torch.addmm(w[5], x, w[4])), w[6])
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
