"""Conditional flow matching (``cfm``): Euler sampling of mel frames with the DiT velocity estimator."""

from __future__ import annotations

import torch
from torch import nn

from GPT_SoVITS.models.cfm.dit import DiT, DiTConfig


class CFM(nn.Module):
    def __init__(self, in_channels: int, dit_config: DiTConfig) -> None:
        super().__init__()
        self.in_channels = in_channels  # mel bins
        self.estimator = DiT(dit_config)

    @torch.no_grad()
    def inference(
        self,
        mu: torch.Tensor,
        x_lens: torch.Tensor,
        prompt: torch.Tensor,
        n_timesteps: int,
        noise: torch.Tensor | None = None,
        temperature: float = 1.0,
        trace: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """mu [B, T, text_dim] content features, prompt [B, mel, Tp] (normalised mel of the first Tp
        frames) -> x [B, mel, T] after ``n_timesteps`` Euler steps from t = 0 to 1 (prompt frames are 0).

        noise: the start point [B, mel, T] (a recorded draw); default ``randn * temperature``.
        trace: if given, every step's velocity [B, T, mel] is appended (for parity checks).
        The classifier-free-guidance branch of the official code is unused by its pipeline (rate 0).
        """
        b, t_len = mu.shape[0], mu.shape[1]
        if noise is None:
            x = torch.randn([b, self.in_channels, t_len], device=mu.device, dtype=mu.dtype) * temperature
        else:
            if noise.shape != (b, self.in_channels, t_len):
                raise ValueError(f"noise shape {list(noise.shape)} != {[b, self.in_channels, t_len]}")
            x = noise.to(device=mu.device, dtype=mu.dtype).clone()
        prompt_len = prompt.shape[-1]
        cond = torch.zeros_like(x)
        cond[..., :prompt_len] = prompt[..., :prompt_len]
        x[..., :prompt_len] = 0
        text_embed = self.estimator.embed_text(mu)  # constant over the steps: computed once
        d = 1 / n_timesteps
        d_tensor = torch.full((b,), d, device=x.device, dtype=mu.dtype)
        t = 0.0
        for _ in range(n_timesteps):
            t_tensor = torch.ones(b, device=x.device, dtype=mu.dtype) * t
            v = self.estimator(x, cond, x_lens, t_tensor, d_tensor, text_embed)
            if trace is not None:
                trace.append(v)
            x = x + d * v.transpose(1, 2)
            t = t + d
            x[:, :, :prompt_len] = 0
        return x
