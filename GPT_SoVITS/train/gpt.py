"""Train the GPT (stage 1, text -> semantic tokens) on a formatted experiment; export official weights.

``python -m GPT_SoVITS.train.gpt --exp logs/<exp> [--pretrained s1.ckpt] --epochs 15 --batch-size 8
--save-every 5 [--dpo]``; several processes: ``torchrun --nproc-per-node N -m GPT_SoVITS.train.gpt ...``

Summed cross entropy on the semantic tokens (EOS after the last) conditioned on phonemes + BERT features,
``--dpo`` adds the official reference-free DPO term on rejected sequences (a random token span duplicated or
deleted). Gradients of ``accumulate`` batches make one optimiser step; global grad-norm clipping; lr warmup
then cosine decay. Checkpoints: ``<exp>/logs_s1_<version>/GPT_<step>.pth`` (atomic, resumable); exports:
``<weights-dir>/<exp>-e<E>.ckpt`` (official format).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import torch
from torch import nn

from GPT_SoVITS import paths
from GPT_SoVITS.config.gpt import GPTConfig, default_gpt_config
from GPT_SoVITS.data.gpt_dataset import GPTDataset
from GPT_SoVITS.data.validate import require_consistent
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import require_file
from GPT_SoVITS.train import cli
from GPT_SoVITS.train.common import Metrics, rng_state, seed_everything, wrap_ddp
from GPT_SoVITS.train.loop import TrainingRun
from GPT_SoVITS.train.optim import ScaledAdamLite, WarmupCosine

log = logging.getLogger(__name__)
STAGE = "train.gpt"
BATCH_KEYS = ("phoneme_ids", "phoneme_ids_len", "semantic_ids", "semantic_ids_len", "bert_feature")


class TrainForward(nn.Module):
    """Makes ``train_loss`` / ``train_loss_dpo`` the ``forward`` DDP hooks its gradient sync into."""

    def __init__(self, model: nn.Module, dpo: bool) -> None:
        super().__init__()
        self.model = model
        self.dpo = dpo

    def forward(self, x, x_lens, y, y_lens, bert):  # -> (loss, acc)
        from GPT_SoVITS.models.gpt.training import train_loss, train_loss_dpo

        fn = train_loss_dpo if self.dpo else train_loss
        return fn(self.model, x, x_lens, y, y_lens, bert)


def load_config(args: argparse.Namespace) -> GPTConfig:
    """--config (YAML or JSON), else the pretrained file's config, else the official defaults; then flags."""
    if args.config is not None:
        text = args.config.read_text(encoding="utf-8")
        if args.config.suffix in (".yaml", ".yml"):
            import yaml

            cfg = GPTConfig.from_dict(yaml.safe_load(text))
        else:
            cfg = GPTConfig.from_dict(json.loads(text))
    elif args.pretrained is not None:
        from GPT_SoVITS.checkpoints import load_gpt

        cfg = GPTConfig.from_dict(load_gpt(args.pretrained).config)
    else:
        cfg = default_gpt_config(args.version)
    cli.apply_common(cfg.train, args, lr_field=None)
    if args.lr is not None:
        cfg.optimizer.lr = args.lr
    if args.accumulate is not None:
        cfg.train.accumulate_grad_batches = args.accumulate
    cfg.extra.update(
        train_semantic_path=str(Path(args.exp) / paths.NAME2SEMANTIC),
        train_phoneme_path=str(Path(args.exp) / paths.NAME2TEXT),
        output_dir=str(Path(args.exp) / paths.ckpt_dir("gpt", args.version)),
        pretrained_s1=str(args.pretrained or ""),
    )
    return cfg


def load_pretrained(model: nn.Module, path: Path) -> str:
    from GPT_SoVITS.checkpoints import load_gpt, strip_gpt_prefix

    weight = {k: v.float() for k, v in strip_gpt_prefix(load_gpt(path).weight).items()}
    own = model.state_dict()
    usable = {k: v for k, v in weight.items() if k in own and own[k].shape == v.shape}
    result = model.load_state_dict(usable, strict=False)
    skipped = sorted(set(weight) - set(usable))
    note = f"{path}: loaded {len(usable)} tensors"
    if result.missing_keys:
        note += f"; missing (kept random): {', '.join(sorted(result.missing_keys)[:8])}"
    if skipped:
        note += f"; not used (absent or other shape): {', '.join(skipped[:8])}"
    log.info("%s", note)
    return note


def export(model: nn.Module, cfg: GPTConfig, args: argparse.Namespace, epoch: int) -> Path:
    from GPT_SoVITS.checkpoints import save_gpt

    path = args.weights_dir / paths.gpt_weight_name(args.name, epoch)
    save_gpt(path, model.state_dict(), cfg.to_dict(), f"GPT-e{epoch}")
    return path


class GPTTraining(TrainingRun):
    """The GPT (with optional DPO, gradient accumulation, warmup-cosine lr) plugged into the shared loop."""

    stage, kind, ckpt_keys = STAGE, "gpt", ("GPT",)

    def __init__(self, args: argparse.Namespace, progress: ProgressLog | None) -> None:
        from GPT_SoVITS.models.gpt import build_gpt

        for path, flag in ((args.pretrained, "--pretrained"), (args.config, "--config"),
                           (args.sample_sovits, "--sample-sovits")):  # fmt: skip
            require_file(path, flag)
        super().__init__(args, progress)
        seed_everything(args.seed)  # same init on every rank; the sampler splits the data
        require_consistent(self.exp, "gpt", cli.list_entries(args), allow_missing=args.allow_missing)
        self.cfg = cfg = load_config(args)
        ds = GPTDataset(self.exp, cli.phone_mapper(args.version), cfg.data, min_items=args.min_epoch_items)
        self.model = build_gpt(cfg.to_dict()).to(self.ctx.device)
        self.setup_data(ds, None, ds.collate, cfg.train.batch_size, cfg.train.seed)
        self.opt = ScaledAdamLite(self.model.parameters(), lr=cfg.optimizer.lr)
        o = cfg.optimizer
        self.sched = WarmupCosine(self.opt, o.lr_init, o.lr, o.lr_end, o.warmup_steps, o.decay_steps)
        self.opt_steps = 0
        self.accumulate = max(1, cfg.train.accumulate_grad_batches)
        self.forward: nn.Module = TrainForward(self.model, args.dpo)
        self.synth = None  # GPTSampler of --sample-sovits, made in start()

    def _on_device(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        return [batch[k].to(self.ctx.device) for k in BATCH_KEYS]

    def probe(self, indices) -> None:
        from GPT_SoVITS.models.gpt.training import train_loss

        batch = self._on_device(self.ds.collate([self.ds[i] for i in indices]))
        with self.amp.autocast():
            loss, _ = train_loss(self.model, *batch)
        loss.backward()
        self.model.zero_grad(set_to_none=True)

    def init_weights(self) -> list[str]:
        return [] if self.args.pretrained is None else [load_pretrained(self.model, self.args.pretrained)]

    def load_state(self, states) -> tuple[int, int, int]:
        state = states["GPT"]
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.amp.scaler.load_state_dict(state["scaler"])
        self.opt_steps = int(state["opt_steps"])
        return int(state["epoch"]), int(state["step"]), int(state["epoch_batches"])

    def state(self, batches: int) -> dict:
        return {
            "GPT": {
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scaler": self.amp.scaler.state_dict(),
                "epoch": self.epoch,
                "step": self.step,
                "opt_steps": self.opt_steps,
                "epoch_batches": batches,
                "rng": rng_state(),
            }
        }

    def start(self) -> None:
        args, ctx = self.args, self.ctx
        if ctx.distributed:
            self.forward = wrap_ddp(self.forward, ctx)
        if ctx.is_main and args.sample_sovits is not None and not args.no_sample:
            from GPT_SoVITS.train.gpt_sample import GPTSampler

            self.synth = GPTSampler(args.sample_sovits, ctx.device)
        self.model.train()

    def optimizer_step(self) -> None:
        self.sched.apply(self.opt_steps)
        self.amp.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.gradient_clip)
        self.amp.scaler.step(self.opt)
        self.amp.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self.opt_steps += 1

    def can_save_at(self, index: int) -> bool:
        return (index + 1) % self.accumulate == 0  # at an optimiser step, never inside accumulation

    def train_batch(self, index: int, batch) -> tuple[dict[str, float], int]:
        tensors = self._on_device(batch)
        with self.amp.autocast():
            loss, acc = self.forward(*tensors)
        self.amp.scaler.scale(loss / self.accumulate).backward()
        lr = self.sched.lr_at(self.opt_steps)
        if self.can_save_at(index) or index + 1 == len(self.sampler):
            self.optimizer_step()
        values = {"loss/total": float(loss.detach().float()), "top_3_acc": float(acc), "lr": lr}
        return values, tensors[0].shape[0]

    def export(self) -> Path:
        return export(self.model, self.cfg, self.args, self.epoch)

    def sample(self, metrics: Metrics) -> Path | None:
        if self.synth is None:
            return None
        return self.synth(self.model, self.ds, self.exp, metrics, self.epoch, self.step)

    def summary(self) -> str:
        final = self.last.get("loss/total", float("nan"))
        return f"{STAGE}: {self.step} steps ({self.opt_steps} optimiser steps); last loss {final:.3f}"


def build_parser() -> argparse.ArgumentParser:
    p = cli.train_parser("GPT_SoVITS.train.gpt", __doc__, default_weights=paths.GPT_WEIGHTS_DIR)
    p.add_argument("--pretrained", type=Path, default=None, help="pretrained GPT weights (s1*.ckpt)")
    p.add_argument(
        "--config", type=Path, default=None, help="s1 YAML/JSON config (default: pretrained's or s1longer)"
    )
    p.add_argument(
        "--dpo", action="store_true", help="add the DPO loss on rejected (span-corrupted) sequences"
    )
    p.add_argument(
        "--sample-sovits", type=Path, default=None, help="SoVITS weights for a sample synthesis at each save"
    )
    p.add_argument("--accumulate", type=int, default=None, help="batches per optimiser step (official: 4)")
    return p


def main(argv: list[str] | None = None) -> int:
    return cli.train_main(STAGE, build_parser(), GPTTraining, argv)


if __name__ == "__main__":
    raise SystemExit(main())
