"""One SoVITS training step (the official s2_train.py recipe) and the model/optimiser setup around it.

Per batch: generator forward on (ssl, spec, text) -> random waveform slice; discriminator step on the real
and generated slices (LSGAN); generator step on adversarial + feature matching + 45 x L1 mel + KL +
commitment (kl_ssl) losses. AdamW (betas 0.8/0.99, eps 1e-9) for both nets; the text embedding, text
encoder and MRTE train at ``text_low_lr_rate`` times the lr; the lr decays by 0.999875 per epoch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from GPT_SoVITS.audio import mel_spectrogram_torch, spec_to_mel_torch
from GPT_SoVITS.checkpoints import CheckpointError
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.models.sovits import MultiPeriodDiscriminator, build_sovits
from GPT_SoVITS.models.sovits.losses import discriminator_loss, feature_loss, generator_loss, kl_loss
from GPT_SoVITS.train.common import DAMAGED_FILE_ERRORS, Amp, rng_state

log = logging.getLogger(__name__)

LOW_LR_MODULES = ("text_embedding", "encoder_text", "mrte")  # children of enc_p trained at the low lr


@dataclass
class SoVITSNets:
    g: nn.Module  # SynthesizerTrn (maybe DDP-wrapped)
    d: nn.Module  # MultiPeriodDiscriminator (maybe DDP-wrapped)
    optim_g: torch.optim.Optimizer
    optim_d: torch.optim.Optimizer

    @property
    def g_core(self) -> nn.Module:
        return getattr(self.g, "module", self.g)

    @property
    def d_core(self) -> nn.Module:
        return getattr(self.d, "module", self.d)


def build_nets(cfg: SoVITSConfig, device: torch.device, sv_input_dim: int | None = None) -> SoVITSNets:
    """G + D and their optimisers; ``sv_input_dim``: width of a v2Pro/v2ProPlus ``sv_emb`` (None: the
    version table's), read from the pretrained file so that reduced SV models train too."""
    g = build_sovits(cfg.to_dict(), with_enc_q=True, sv_input_dim=sv_input_dim).to(device)
    d = MultiPeriodDiscriminator(cfg.model.use_spectral_norm).to(device)
    t = cfg.train
    low = [p for name in LOW_LR_MODULES for p in getattr(g.enc_p, name).parameters()]
    low_ids = {id(p) for p in low}
    base = [p for p in g.parameters() if id(p) not in low_ids and p.requires_grad]
    groups = [{"params": base, "lr": t.learning_rate}]
    groups += [
        {"params": list(getattr(g.enc_p, name).parameters()), "lr": t.learning_rate * t.text_low_lr_rate}
        for name in LOW_LR_MODULES
    ]
    optim_g = torch.optim.AdamW(groups, t.learning_rate, betas=tuple(t.betas), eps=t.eps)
    optim_d = torch.optim.AdamW(d.parameters(), t.learning_rate, betas=tuple(t.betas), eps=t.eps)
    for opt in (optim_g, optim_d):
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
    return SoVITSNets(g, d, optim_g, optim_d)


def set_epoch_lr(nets: SoVITSNets, epoch: int, lr_decay: float) -> float:
    """Official schedule: during epoch e (1-based) every group runs at ``initial_lr * lr_decay ** e``."""
    for opt in (nets.optim_g, nets.optim_d):
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * lr_decay**epoch
    return float(nets.optim_g.param_groups[0]["lr"])


def pretrained_sv_width(g_path: Path | None) -> int | None:
    """Input width of ``sv_emb`` in a pretrained v2Pro/v2ProPlus generator (None: no file or no SV branch)."""
    if g_path is None:
        return None
    from GPT_SoVITS.checkpoints import load_sovits

    sv = load_sovits(g_path).weight.get("sv_emb.weight")
    return int(sv.shape[1]) if sv is not None else None


def load_pretrained(nets: SoVITSNets, g_path: Path | None, d_path: Path | None) -> list[str]:
    """Initialise from pretrained G/D weights (non-strict, as the official); returns the notes logged."""
    notes: list[str] = []
    if g_path is not None:
        from GPT_SoVITS.checkpoints import load_sovits

        weight = {k: v.float() for k, v in load_sovits(g_path).weight.items()}
        notes.append(_load_into(nets.g_core, weight, g_path))
    if d_path is not None:
        try:
            state = torch.load(d_path, map_location="cpu", weights_only=True)
        except DAMAGED_FILE_ERRORS as e:  # a pickle with code or a damaged file: refuse, naming it
            raise CheckpointError(d_path, f"not a readable discriminator weight file ({e})") from e
        weight = state.get("weight", state.get("model", state)) if isinstance(state, Mapping) else state
        notes.append(_load_into(nets.d_core, {k: v.float() for k, v in weight.items()}, d_path))
    return notes


def _load_into(model: nn.Module, weight: Mapping[str, torch.Tensor], path: Path) -> str:
    own = model.state_dict()
    usable = {k: v for k, v in weight.items() if k in own and own[k].shape == v.shape}
    wrong_shape = sorted(k for k, v in weight.items() if k in own and own[k].shape != v.shape)
    result = model.load_state_dict(usable, strict=False)
    missing = sorted(result.missing_keys)
    unexpected = sorted(k for k in weight if k not in own)
    note = f"{path}: loaded {len(usable)} tensors"
    if missing:
        note += f"; missing {len(missing)} (kept random): {', '.join(missing[:8])}"
    if unexpected:
        note += f"; unused {len(unexpected)}: {', '.join(unexpected[:8])}"
    if wrong_shape:
        note += f"; shape differs {len(wrong_shape)}: {', '.join(wrong_shape[:8])}"
    log.info("%s", note)
    return note


def _slice(x: torch.Tensor, starts: torch.Tensor, size: int) -> torch.Tensor:
    """x [B, C, T] -> [B, C, size] starting at starts[b] (official commons.slice_segments)."""
    return torch.stack([x[i, :, int(s) : int(s) + size] for i, s in enumerate(starts)])


def _targets(
    spec: torch.Tensor, y: torch.Tensor, y_hat: torch.Tensor, ids_slice: torch.Tensor, cfg: SoVITSConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(real mel slice, generated mel, real waveform slice) for the generated segment."""
    d, t = cfg.data, cfg.train
    mel = spec_to_mel_torch(spec, d.filter_length, d.n_mel_channels, d.sampling_rate, d.mel_fmin, d.mel_fmax)
    y_mel = _slice(mel, ids_slice, t.segment_size // d.hop_length)
    y_hat_mel = mel_spectrogram_torch(
        y_hat.squeeze(1).float(), d.filter_length, d.n_mel_channels, d.sampling_rate, d.hop_length,
        d.win_length, d.mel_fmin, d.mel_fmax,
    )  # fmt: skip
    return y_mel, y_hat_mel, _slice(y, ids_slice * d.hop_length, t.segment_size)


def _backward(opt: torch.optim.Optimizer, loss: torch.Tensor, amp: Amp, update: bool) -> None:
    opt.zero_grad(set_to_none=True)
    amp.scaler.scale(loss).backward()
    if update:
        amp.scaler.unscale_(opt)
        amp.scaler.step(opt)


def train_step(
    nets: SoVITSNets, batch: tuple[torch.Tensor, ...], cfg: SoVITSConfig, amp: Amp, update: bool = True
) -> dict[str, float]:
    """One official generator + discriminator update; returns the loss values (floats).

    ``update=False`` runs forward and backward only and drops the gradients (a memory probe).
    """
    device = next(nets.g_core.parameters()).device
    ssl, _ssl_len, spec, spec_len, y, _y_len, text, text_len, *sv = (
        t.to(device, non_blocking=True) for t in batch
    )  # sv: [B, D] SV embeddings of v2Pro/v2ProPlus batches
    with amp.autocast():
        y_hat, kl_ssl, ids_slice, _x_mask, z_mask, (_z, z_p, m_p, logs_p, _m_q, logs_q), _ = nets.g(
            ssl, spec, spec_len, text, text_len, sv_emb=sv[0] if sv else None
        )
        y_mel, y_hat_mel, y = _targets(spec, y, y_hat, ids_slice, cfg)
        real, fake, _, _ = nets.d(y, y_hat.detach())
        loss_disc, _, _ = discriminator_loss(real, fake)
    _backward(nets.optim_d, loss_disc, amp, update)

    with amp.autocast():
        _, fake, fmap_r, fmap_g = nets.d(y, y_hat)
        loss_mel = F.l1_loss(y_mel.float(), y_hat_mel.float()) * cfg.train.c_mel
        loss_kl = kl_loss(z_p, logs_q, m_p, logs_p, z_mask) * cfg.train.c_kl
        loss_fm = feature_loss(fmap_r, fmap_g)
        loss_gen, _ = generator_loss(fake)
        loss_all = loss_gen + loss_fm + loss_mel + kl_ssl.float() + loss_kl
    _backward(nets.optim_g, loss_all, amp, update)
    if update:
        amp.scaler.update()
    else:
        nets.optim_d.zero_grad(set_to_none=True)
        nets.optim_g.zero_grad(set_to_none=True)
    values = {
        "loss/d/total": loss_disc,
        "loss/g/total": loss_all,
        "loss/g/gen": loss_gen,
        "loss/g/fm": loss_fm,
        "loss/g/mel": loss_mel,
        "loss/g/kl_ssl": kl_ssl,
        "loss/g/kl": loss_kl,
    }
    return {k: float(v.detach().float().item()) for k, v in values.items()}


def all_finite(values: Mapping[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values())


def training_state(nets: SoVITSNets, amp: Amp, epoch: int, step: int, epoch_batches: int, lr: float) -> dict:
    """G/D states in the official ``utils.save_checkpoint`` layout plus our resume fields."""
    common: dict[str, Any] = {
        "iteration": epoch,
        "learning_rate": lr,
        "step": step,
        "epoch_batches": epoch_batches,
        "scaler": amp.scaler.state_dict(),
        "rng": rng_state(),
    }
    return {
        "G": {"model": nets.g_core.state_dict(), "optimizer": nets.optim_g.state_dict(), **common},
        "D": {"model": nets.d_core.state_dict(), "optimizer": nets.optim_d.state_dict(), **common},
    }


def restore_state(
    nets: SoVITSNets, amp: Amp, states: Mapping[str, Mapping[str, Any]]
) -> tuple[int, int, int]:
    """Load G/D training states; returns (epoch, step, batches done in that epoch)."""
    nets.g_core.load_state_dict(states["G"]["model"])
    nets.d_core.load_state_dict(states["D"]["model"])
    nets.optim_g.load_state_dict(states["G"]["optimizer"])
    nets.optim_d.load_state_dict(states["D"]["optimizer"])
    if "scaler" in states["G"]:
        amp.scaler.load_state_dict(states["G"]["scaler"])
    g = states["G"]
    # official files carry only the finished epoch ("iteration"): step -1 = "count it from the epoch"
    return int(g["iteration"]), int(g.get("step", -1)), int(g.get("epoch_batches", -1))
