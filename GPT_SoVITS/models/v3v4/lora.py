"""LoRA on the v3/v4 DiT attention (official v3/v4 fine-tuning) and its export in the official format.

``add_lora`` wraps ``to_q``, ``to_k``, ``to_v`` and ``to_out.0`` of every DiT block (peft's
``LoraConfig(target_modules=..., r=rank, lora_alpha=rank)`` without peft), freezes the DiT base weights
and the content path (ssl_proj, quantizer, enc_p). ``official_lora_state_dict`` gives what
``s2_train_v3_lora.py`` saves: trainable parameters and every buffer, LoRA keys spelled as peft does
(``cfm.base_model.model.estimator....lora_A.default.weight``). Write it with
``checkpoints.save_sovits(..., version, lora_rank=rank)`` (header 03/04).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3

TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
LORA_RANKS = (16, 32, 64, 128)  # the official trainer's choices
FROZEN = ("ssl_proj.", "quantizer.", "enc_p.")


class LoRALinear(nn.Module):
    """y = base(x) + (alpha / r) * B(A(x)); B starts at zero, so the wrapped layer starts unchanged."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling


def add_lora(model: SynthesizerTrnV3, rank: int, alpha: float | None = None) -> list[str]:
    """Wrap the DiT attention projections in place; returns the names of the trainable parameters."""
    alpha = rank if alpha is None else alpha
    for p in model.cfm.parameters():
        p.requires_grad_(False)
    for prefix in FROZEN:
        for p in model.get_submodule(prefix.rstrip(".")).parameters():
            p.requires_grad_(False)
    for block in model.cfm.estimator.transformer_blocks:
        attn = block.attn
        for name in ("to_q", "to_k", "to_v"):
            setattr(attn, name, LoRALinear(getattr(attn, name), rank, alpha))
        attn.to_out[0] = LoRALinear(attn.to_out[0], rank, alpha)
    return [n for n, p in model.named_parameters() if p.requires_grad]


def _official_name(name: str) -> str:
    if not name.startswith("cfm."):
        return name
    name = name.replace(".lora_A.weight", ".lora_A.default.weight").replace(
        ".lora_B.weight", ".lora_B.default.weight"
    )
    return "cfm.base_model.model." + name[len("cfm.") :]


def official_lora_state_dict(model: SynthesizerTrnV3) -> dict[str, torch.Tensor]:
    """Trainable parameters + all persistent buffers, in model order, with the official (peft) names."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    buffers = {n for n, _ in model.named_buffers()}
    out = {}
    for name, value in model.state_dict().items():
        if name in trainable or name in buffers:
            out[_official_name(name)] = value.detach()
    return out
