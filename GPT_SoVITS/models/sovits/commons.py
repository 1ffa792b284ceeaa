"""Small shared pieces of the SoVITS synthesizer: masks, gated activations, slicing, weight norm.

Weight norm is implemented here (instead of ``torch.nn.utils.weight_norm``, deprecated, or the
parametrizations API, which names its state-dict entries ``parametrizations.weight.original0/1``) because
official checkpoints store every weight-normed layer as ``<layer>.weight_g`` / ``<layer>.weight_v``.
"""

from __future__ import annotations

import torch
from torch import nn

LRELU_SLOPE = 0.1  # leaky-ReLU slope inside the HiFi-GAN decoder and the discriminators


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding of a stride-1 convolution with this kernel and dilation."""
    return (kernel_size * dilation - dilation) // 2


def sequence_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """Boolean mask [B, max_length]: True where the position is inside the sequence."""
    if max_length is None:
        max_length = int(lengths.max())
    positions = torch.arange(max_length, dtype=lengths.dtype, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def length_mask(lengths: torch.Tensor, max_length: int, dtype: torch.dtype) -> torch.Tensor:
    """Float mask [B, 1, max_length] as the encoders use it (1 inside, 0 in the padding)."""
    return sequence_mask(lengths, max_length).unsqueeze(1).to(dtype)


def gated_activation(x: torch.Tensor, cond: torch.Tensor, n_channels: int) -> torch.Tensor:
    """WaveNet gate: tanh(first half) * sigmoid(second half) of ``x + cond`` ([B, 2C, T] -> [B, C, T])."""
    summed = x + cond
    return torch.tanh(summed[:, :n_channels]) * torch.sigmoid(summed[:, n_channels:])


def slice_segments(x: torch.Tensor, starts: torch.Tensor, segment_size: int) -> torch.Tensor:
    """Per batch item, the window ``x[i, :, starts[i] : starts[i] + segment_size]``."""
    out = torch.zeros_like(x[:, :, :segment_size])
    for i in range(x.size(0)):
        start = int(starts[i])
        out[i] = x[i, :, start : start + segment_size]
    return out


def rand_slice_segments(
    x: torch.Tensor, lengths: torch.Tensor, segment_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random training windows of ``segment_size`` frames inside each item's valid length."""
    max_start = lengths - segment_size + 1
    starts = (torch.rand([x.size(0)], device=x.device) * max_start).to(dtype=torch.long)
    return slice_segments(x, starts, segment_size), starts


class _WeightNormHook:
    """Recomputes ``weight = g * v / ||v||`` (norm over every dim but ``dim``) before each forward."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def compute(self, module: nn.Module) -> torch.Tensor:
        # torch._weight_norm is the kernel the official (torch.nn.utils.weight_norm) layers use.
        return torch._weight_norm(module.weight_v, module.weight_g, self.dim)

    def __call__(self, module: nn.Module, _inputs: object) -> None:
        module.weight = self.compute(module)


def weight_norm(module: nn.Module, dim: int = 0) -> nn.Module:
    """Reparametrize ``module.weight`` as ``weight_g`` (magnitude) and ``weight_v`` (direction)."""
    hook = _WeightNormHook(dim)
    weight = module.weight
    del module._parameters["weight"]
    module.register_parameter("weight_g", nn.Parameter(torch.norm_except_dim(weight, 2, dim).detach()))
    module.register_parameter("weight_v", nn.Parameter(weight.detach()))
    # A detached copy until the first forward recomputes it (keeps the fresh module deep-copyable).
    module.weight = hook.compute(module).detach()
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold ``weight_g``/``weight_v`` back into a plain ``weight`` parameter (for export/inference)."""
    found = [key for key, h in module._forward_pre_hooks.items() if isinstance(h, _WeightNormHook)]
    if not found:
        raise ValueError(f"{type(module).__name__} has no weight norm to remove")
    weight = module._forward_pre_hooks[found[0]].compute(module).detach()
    del module._forward_pre_hooks[found[0]]
    del module._parameters["weight_g"]
    del module._parameters["weight_v"]
    del module.weight
    module.weight = nn.Parameter(weight)
    return module


def fold_weight_norms(model: nn.Module) -> int:
    """Fold every weight norm in ``model`` into plain weights (inference: the forward pass then skips
    recomputing them, ~10 ms per full-size SoVITS decode on 2 CPU cores). The folded weights are what
    each forward computed, bit for bit; the state-dict names change (``weight`` instead of
    ``weight_g``/``weight_v``), so never save a folded model as a checkpoint. Returns the number folded."""
    folded = 0
    for module in model.modules():
        if any(isinstance(h, _WeightNormHook) for h in module._forward_pre_hooks.values()):
            remove_weight_norm(module)
            folded += 1
    return folded
