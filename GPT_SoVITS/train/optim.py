"""GPT optimiser and lr schedule.

The official s1 trainer uses icefall's ``ScaledAdam`` (lr 0.01, betas 0.9/0.95): an Adam direction whose
step is scaled by each parameter tensor's RMS, so the lr is a relative change per step. ``ScaledAdamLite``
keeps that core (Adam moments, RMS-scaled update clamped to [1e-5, 3], scalars at 0.1 x lr) and leaves out
ScaledAdam's learned parameter-scale term and its median-based clipping (we clip the global grad norm).

``WarmupCosine`` is the official WarmupCosineLRSchedule as designed: linear warmup from ``lr_init`` to
``lr`` over ``warmup_steps`` optimiser steps, cosine decay to ``lr_end`` at ``decay_steps``, then flat.
(The released official file overrides every step's lr with a constant 0.002; we follow the schedule its
config describes.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

PARAM_MIN_RMS = 1e-5
PARAM_MAX_RMS = 3.0
SCALAR_LR_SCALE = 0.1


class ScaledAdamLite(torch.optim.Optimizer):
    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.95),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, dtype=torch.float32)
                    state["exp_avg_sq"] = torch.zeros_like(p, dtype=torch.float32)
                state["step"] += 1
                t = state["step"]
                grad = p.grad.float()
                state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                m_hat = state["exp_avg"] / (1 - beta1**t)
                v_hat = state["exp_avg_sq"] / (1 - beta2**t)
                direction = m_hat / (v_hat.sqrt() + group["eps"])
                if p.numel() > 1:
                    rms = p.float().pow(2).mean().sqrt().clamp(PARAM_MIN_RMS, PARAM_MAX_RMS)
                    p.add_((-group["lr"] * rms * direction).to(p.dtype))
                else:
                    p.add_((-group["lr"] * SCALAR_LR_SCALE * direction).to(p.dtype))
        return loss


class WarmupCosine:
    """lr as a function of the optimiser step; ``apply(step)`` writes it into every param group."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lr_init: float,
        lr: float,
        lr_end: float,
        warmup: int,
        total: int,
    ) -> None:
        if warmup < 0 or total <= warmup:
            raise ValueError(f"need 0 <= warmup_steps < decay_steps, got {warmup} and {total}")
        self.optimizer = optimizer
        self.lr_init, self.lr_peak, self.lr_end = lr_init, lr, lr_end
        self.warmup, self.total = warmup, total

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr_init + (self.lr_peak - self.lr_init) * step / self.warmup
        if step > self.total:
            return self.lr_end
        ratio = (step - self.warmup) / (self.total - self.warmup)
        return self.lr_end + 0.5 * (1 + math.cos(math.pi * ratio)) * (self.lr_peak - self.lr_end)

    def apply(self, step: int) -> float:
        lr = self.lr_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr
