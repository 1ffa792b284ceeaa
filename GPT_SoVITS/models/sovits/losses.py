"""SoVITS GAN/VAE training losses (the official s2 definitions; all computed in float32)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def feature_loss(
    fmap_r: Sequence[Sequence[torch.Tensor]], fmap_g: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """Feature matching: 2 * sum over discriminators and layers of mean |real - fake| (real detached)."""
    loss = torch.zeros(())
    for disc_r, disc_g in zip(fmap_r, fmap_g, strict=True):
        for r, g in zip(disc_r, disc_g, strict=True):
            loss = loss.to(g.device) + torch.mean(torch.abs(r.float().detach() - g.float()))
    return loss * 2


def discriminator_loss(
    real_outputs: Sequence[torch.Tensor], fake_outputs: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, list[float], list[float]]:
    """LSGAN discriminator loss: sum of mean (1 - D(real))^2 + mean D(fake)^2; also the per-disc values."""
    loss = torch.zeros(())
    r_losses, g_losses = [], []
    for dr, dg in zip(real_outputs, fake_outputs, strict=True):
        r_loss = torch.mean((1 - dr.float()) ** 2)
        g_loss = torch.mean(dg.float() ** 2)
        loss = loss.to(r_loss.device) + r_loss + g_loss
        r_losses.append(r_loss.item())
        g_losses.append(g_loss.item())
    return loss, r_losses, g_losses


def generator_loss(fake_outputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """LSGAN generator loss: sum of mean (1 - D(fake))^2; also the per-discriminator terms."""
    loss = torch.zeros(())
    terms = []
    for dg in fake_outputs:
        term = torch.mean((1 - dg.float()) ** 2)
        terms.append(term)
        loss = loss.to(term.device) + term
    return loss, terms


def kl_loss(
    z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor, z_mask: torch.Tensor
) -> torch.Tensor:
    """KL between the posterior sample mapped by the flow (z_p, logs_q) and the prior (m_p, logs_p):
    summed over channels and valid frames, divided by the number of valid frames (official scaling).
    All inputs [B, C, T], mask [B, 1, T]."""
    z_p, logs_q, m_p, logs_p, z_mask = (t.float() for t in (z_p, logs_q, m_p, logs_p, z_mask))
    kl = logs_p - logs_q - 0.5
    kl = kl + 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * z_mask) / torch.sum(z_mask)
