"""Conditional flow matching (``cfm``): Euler sampling of mel frames with the DiT velocity estimator."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

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

    def loss(
        self, x1: torch.Tensor, x_lens: torch.Tensor, prompt_lens: torch.Tensor, mu: torch.Tensor
    ) -> torch.Tensor:
        """Flow-matching training loss (official ``CFM.forward``).

        x1 [B, mel, T] target (normalised) mels, x_lens [B] valid frames, prompt_lens [B] frames given as
        the prompt (not scored), mu [B, text_dim, T] content features. A random 30% of the steps train the
        step-size input with a two-half-step ("shortcut") target, as the official trainer does.
        """
        b = x1.shape[0]
        t = torch.rand([b], device=x1.device, dtype=x1.dtype)
        x0 = torch.randn_like(x1)
        vt = x1 - x0
        xt = x0 + t[:, None, None] * vt
        dt = torch.zeros_like(t)
        prompt = torch.zeros_like(x1)
        for i in range(b):
            prompt[i, :, : prompt_lens[i]] = x1[i, :, : prompt_lens[i]]
            xt[i, :, : prompt_lens[i]] = 0
        text_embed = self.estimator.embed_text(mu.transpose(1, 2))
        if float(torch.rand(())) < 0.3:
            d = 1 / torch.pow(2, torch.randint(2, 8, (b,), device=x1.device)).to(x1.dtype)
            d_input = torch.where(d < 1e-2, torch.zeros_like(d), d)
            with torch.no_grad():
                v1 = self.estimator(xt, prompt, x_lens, t, d_input, text_embed).transpose(2, 1)
                x_mid = xt + d[:, None, None] * v1
                v2 = self.estimator(x_mid, prompt, x_lens, t + d, d_input, text_embed).transpose(2, 1)
            vt = (v1 + v2) / 2
            dt = 2 * d
        v_pred = self.estimator(xt, prompt, x_lens, t, dt, text_embed).transpose(2, 1)
        total = x1.new_zeros(())
        for i in range(b):
            span = slice(int(prompt_lens[i]), int(x_lens[i]))
            total = total + F.mse_loss(v_pred[i, :, span], vt[i, :, span])
        return total / b
