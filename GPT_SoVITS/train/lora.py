"""v3/v4 LoRA fine-tuning (the official ``s2_train_v3_lora.py``), run by ``train.sovits --version v3|v4``.

The base model (``--pretrained-g``, default ``pretrained_models/s2Gv3.pth`` or
``gsv-v4-pretrained/s2Gv4.pth``) is loaded, the content path (ssl_proj, quantizer, enc_p) and the DiT are
frozen, LoRA of ``--lora-rank`` wraps the DiT attention ``to_q/to_k/to_v/to_out.0``; the loss is the CFM
flow-matching loss on the mel of each 32 kHz clip. Each save exports
``<weights-dir>/<exp>_e<E>_s<S>_l<rank>.pth`` (header 03 for v3, 04 for v4), which loads merged onto the base.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from GPT_SoVITS import paths
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.data.cfm_dataset import CFMDataset, collate_cfm
from GPT_SoVITS.data.sovits_dataset import SOVITS_BOUNDARIES
from GPT_SoVITS.data.validate import require_consistent
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import StageError, require_file
from GPT_SoVITS.train import cli
from GPT_SoVITS.train.common import rng_state, seed_everything, wrap_ddp
from GPT_SoVITS.train.loop import TrainingRun

log = logging.getLogger(__name__)
STAGE = "train.sovits"
DEFAULT_LORA_RANK = 32  # the official WebUI's default


def lora_weight_name(exp: str, epoch: int, step: int, rank: int) -> str:
    """Official LoRA export name: ``<exp>_e<E>_s<S>_l<rank>.pth``."""
    return paths.sovits_weight_name(exp, epoch, step).removesuffix(".pth") + f"_l{rank}.pth"


def base_path(args: argparse.Namespace) -> Path:
    from GPT_SoVITS.models.v3v4.load import default_base_path

    path = args.pretrained_g or default_base_path(args.version)
    require_file(path, "--pretrained-g")
    return Path(path)


class LoRATraining(TrainingRun):
    """A SynthesizerTrnV3 with LoRA on its DiT, plugged into the shared training loop (one net, key G)."""

    stage, kind, ckpt_keys = STAGE, "sovits", ("G",)

    def __init__(self, args: argparse.Namespace, progress: ProgressLog | None) -> None:
        from GPT_SoVITS.checkpoints import load_sovits
        from GPT_SoVITS.models.v3v4.load import load_v3v4_sovits
        from GPT_SoVITS.models.v3v4.lora import add_lora

        self.base = base_path(args)
        super().__init__(args, progress)
        exp = self.exp
        seed_everything(args.seed + self.ctx.rank)
        self.report = require_consistent(
            exp, "sovits", cli.list_entries(args), allow_missing=args.allow_missing
        )
        base = load_sovits(self.base)
        self.cfg = cfg = SoVITSConfig.from_dict(base.config)
        cfg.model.version = args.version
        cfg.train.epochs = args.epochs or spec_epochs(args.version) or cfg.train.epochs
        cli.apply_common(cfg.train, args, lr_field="learning_rate")
        cfg.extra.update(name=args.name, version=args.version, pretrained_s2G=str(self.base))
        cfg.extra["lora_rank"] = args.lora_rank
        names = sorted(
            (set(exp.read_text()) & exp.hubert_names() & exp.wav_names()) - set(self.report.dropped)
        )
        to_ids = cli.phone_mapper(args.version)
        ds = CFMDataset(exp, names, to_ids, cfg.data, args.min_epoch_items, version=args.version)
        model = load_v3v4_sovits(base, args.version, False).to(self.ctx.device)
        self.trainable = add_lora(model, args.lora_rank)
        self.model = self.net = model
        t = cfg.train
        params = [p for p in model.parameters() if p.requires_grad]
        self.optim = torch.optim.AdamW(params, t.learning_rate, betas=tuple(t.betas), eps=t.eps)
        for group in self.optim.param_groups:
            group["initial_lr"] = group["lr"]
        self.lr = t.learning_rate
        self.setup_data(ds, list(SOVITS_BOUNDARIES), collate_cfm, t.batch_size, t.seed)

    def _loss(self, batch) -> torch.Tensor:
        device = self.ctx.device
        ssl, spec, spec_len, mel, mel_len, text, text_len = (t.to(device) for t in batch)
        with self.amp.autocast():
            return self.net(ssl, spec, mel, spec_len, text, text_len, mel_len)

    def probe(self, indices) -> None:
        self.optim.zero_grad(set_to_none=True)
        self.amp.scaler.scale(self._loss(collate_cfm([self.ds[i] for i in indices]))).backward()
        self.optim.zero_grad(set_to_none=True)

    def init_weights(self) -> list[str]:
        return [f"{self.base}: base loaded; LoRA rank {self.args.lora_rank} on the DiT attention, "
                f"{len(self.trainable)} trainable tensors"]  # fmt: skip

    def load_state(self, states: Mapping[str, Mapping[str, Any]]) -> tuple[int, int, int]:
        g = states["G"]
        if int(g.get("lora_rank", self.args.lora_rank)) != self.args.lora_rank:
            raise StageError(
                f"the training checkpoints were made with --lora-rank {g['lora_rank']}; "
                "pass that or --restart",
                field="--lora-rank",
            )
        self.model.load_state_dict(g["model"])
        self.optim.load_state_dict(g["optimizer"])
        if "scaler" in g:
            self.amp.scaler.load_state_dict(g["scaler"])
        return int(g["iteration"]), int(g.get("step", -1)), int(g.get("epoch_batches", -1))

    def state(self, batches: int) -> dict:
        return {"G": {
            "model": self.model.state_dict(), "optimizer": self.optim.state_dict(), "iteration": self.epoch,
            "learning_rate": self.lr, "step": self.step, "epoch_batches": batches,
            "scaler": self.amp.scaler.state_dict(), "rng": rng_state(), "lora_rank": self.args.lora_rank,
        }}  # fmt: skip

    def start(self) -> None:
        if self.ctx.distributed:
            self.net = wrap_ddp(self.model, self.ctx)
        self.net.train()

    def begin_epoch(self) -> None:
        for group in self.optim.param_groups:  # official ExponentialLR stepped per epoch
            group["lr"] = group["initial_lr"] * self.cfg.train.lr_decay**self.epoch
        self.lr = float(self.optim.param_groups[0]["lr"])

    def train_batch(self, index: int, batch) -> tuple[dict[str, float], int]:
        loss = self._loss(batch)
        self.optim.zero_grad(set_to_none=True)
        self.amp.scaler.scale(loss).backward()
        self.amp.scaler.step(self.optim)
        self.amp.scaler.update()
        value = float(loss.detach().float())
        if not math.isfinite(value):
            log.warning("step %d: non-finite loss %s", self.step, value)
        return {"loss/g/cfm": value, "lr": self.lr}, batch[0].shape[0]

    def export(self) -> Path:
        from GPT_SoVITS.checkpoints import save_sovits
        from GPT_SoVITS.models.v3v4.lora import official_lora_state_dict

        args = self.args
        path = args.weights_dir / lora_weight_name(args.name, self.epoch, self.step, args.lora_rank)
        info = f"{self.epoch}epoch_{self.step}iteration"
        sd = official_lora_state_dict(self.model)
        save_sovits(path, sd, self.cfg.to_dict(), info, args.version, lora_rank=args.lora_rank)
        return path

    def summary(self) -> str:
        loss = self.last.get("loss/g/cfm", float("nan"))
        return (f"{STAGE}: {self.step} steps (LoRA rank {self.args.lora_rank}), "
                f"{len(self.report.dropped)} dropped item(s); last cfm {loss:.3f}")  # fmt: skip


def spec_epochs(version: str) -> int | None:
    from GPT_SoVITS.versions import spec

    return spec(version).sovits_epochs
