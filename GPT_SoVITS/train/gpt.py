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
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from GPT_SoVITS import paths
from GPT_SoVITS.config.gpt import GPTConfig, default_gpt_config
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.gpt_dataset import GPTDataset
from GPT_SoVITS.data.sampler import BucketBatchSampler
from GPT_SoVITS.data.validate import require_consistent
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.train import cli
from GPT_SoVITS.train.common import (
    CheckpointDir,
    Metrics,
    barrier,
    find_batch_size,
    remove_partials,
    restore_rng,
    rng_state,
    seed_everything,
    start_run,
    wrap_ddp,
)
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
    from GPT_SoVITS.checkpoints import load_gpt

    weight = {k.removeprefix("model."): v.float() for k, v in load_gpt(path).weight.items()}
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


class GPTTraining:
    """One training run: data, model, optimiser and checkpoints are set up once, then ``run()``."""

    def __init__(self, args: argparse.Namespace, progress: ProgressLog | None) -> None:
        from GPT_SoVITS.models.gpt import build_gpt

        self.args, self.progress = args, progress
        self.exp = Experiment(args.exp)
        self.ctx, self.amp = cli.setup_runtime(args)
        seed_everything(args.seed)  # same init on every rank; the sampler splits the data
        require_consistent(self.exp, "gpt", cli.list_entries(args), allow_missing=args.allow_missing)
        self.cfg = cfg = load_config(args)
        self.ds = GPTDataset(
            self.exp, cli.phone_mapper(args.version), cfg.data, min_items=args.min_epoch_items
        )
        self.model = build_gpt(cfg.to_dict()).to(self.ctx.device)
        self.batch_size = self._batch_size()
        self.sampler = BucketBatchSampler(
            self.ds.lengths, self.batch_size, None, self.ctx.world_size, self.ctx.rank, seed=cfg.train.seed
        )
        # the loader's own generator: creating an epoch iterator must not draw from the global stream (resume)
        self.loader = DataLoader(
            self.ds, batch_sampler=self.sampler, collate_fn=self.ds.collate, num_workers=args.num_workers,
            generator=torch.Generator().manual_seed(args.seed),
        )  # fmt: skip
        self.opt = ScaledAdamLite(self.model.parameters(), lr=cfg.optimizer.lr)
        o = cfg.optimizer
        self.sched = WarmupCosine(self.opt, o.lr_init, o.lr, o.lr_end, o.warmup_steps, o.decay_steps)
        self.ckpts = CheckpointDir(self.exp.root / paths.ckpt_dir("gpt", args.version), ("GPT",), args.keep)
        if self.ctx.is_main:
            remove_partials(self.ckpts.folder)
        self.epoch, self.step, self.opt_steps, self.start_batch = 1, 0, 0, 0
        self.accumulate = max(1, cfg.train.accumulate_grad_batches)
        self.last: dict[str, float] = {}

    def _batch_size(self) -> int:
        ds, ctx = self.ds, self.ctx
        size = cli.pick_batch_size(self.args.batch_size, self.cfg.train.batch_size, len(ds.items), ctx)
        if self.args.batch_size != "auto":
            return size
        longest = sorted(range(len(ds)), key=lambda i: -ds.lengths[i])

        from GPT_SoVITS.models.gpt.training import train_loss

        def probe(bs: int) -> None:  # forward + backward on the longest items, no update
            b = {k: v.to(ctx.device) for k, v in ds.collate([ds[i] for i in longest[:bs]]).items()}
            with self.amp.autocast():
                loss, _ = train_loss(self.model, *(b[k] for k in BATCH_KEYS))
            loss.backward()
            self.model.zero_grad(set_to_none=True)

        return find_batch_size(probe, size, ctx.device)

    def restore(self) -> None:
        """Resume from the newest checkpoint, else initialise from --pretrained."""
        resumed = self.ckpts.load_latest() if not self.args.restart else None
        if resumed is None:
            if self.args.pretrained is not None:
                note = load_pretrained(self.model, self.args.pretrained)
                if self.progress:
                    self.progress.write("note", message=note)
            return
        state = resumed[1]["GPT"]
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.amp.scaler.load_state_dict(state["scaler"])
        self.step, self.opt_steps = int(state["step"]), int(state["opt_steps"])
        self.epoch, self.start_batch = int(state["epoch"]), int(state["epoch_batches"])
        restore_rng(state.get("rng"), self.ctx.rank, self.args.seed, self.step)
        if self.start_batch >= len(self.sampler):
            self.epoch, self.start_batch = self.epoch + 1, 0
        log.info("resumed from step %d (epoch %d, batch %d)", self.step, self.epoch, self.start_batch)

    def optimizer_step(self) -> None:
        self.sched.apply(self.opt_steps)
        self.amp.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.gradient_clip)
        self.amp.scaler.step(self.opt)
        self.amp.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self.opt_steps += 1

    def train_epoch(self, wrapped: nn.Module, metrics: Metrics) -> bool:
        """Batches of ``self.epoch`` from ``self.start_batch``; False when --max-steps stopped it."""
        args, ctx, n_batches = self.args, self.ctx, len(self.sampler)
        self.sampler.set_epoch(self.epoch, self.start_batch)
        for i, batch in enumerate(self.loader, start=self.start_batch):
            b = {k: v.to(ctx.device) for k, v in batch.items()}
            with self.amp.autocast():
                loss, acc = wrapped(*(b[k] for k in BATCH_KEYS))
            self.amp.scaler.scale(loss / self.accumulate).backward()
            self.step += 1
            lr = self.sched.lr_at(self.opt_steps)
            at_boundary = (i + 1) % self.accumulate == 0
            if at_boundary or i + 1 == n_batches:
                self.optimizer_step()
            self.last = {"loss/total": float(loss.detach().float()), "top_3_acc": float(acc), "lr": lr}
            log_now = ctx.is_main and self.step % args.log_interval == 0
            metrics.step(
                self.step, self.epoch, b["phoneme_ids"].shape[0] * ctx.world_size, self.last, log_now
            )
            every = args.save_every_steps
            if every and self.step % every == 0 and at_boundary and i + 1 < n_batches:
                self.save(i + 1)
            if args.max_steps and self.step >= args.max_steps:
                return False
        self.start_batch = 0
        return True

    def run(self) -> str:
        self.restore()
        ctx, args, cfg = self.ctx, self.args, self.cfg
        wrapped: nn.Module = TrainForward(self.model, args.dpo)
        if ctx.distributed:
            wrapped = wrap_ddp(wrapped, ctx)
        total = cfg.train.epochs * len(self.sampler)
        tb_dir = self.ckpts.folder if ctx.is_main else None
        metrics = start_run(self.progress, STAGE, total, self.step, self.epoch, self.batch_size, tb_dir)
        sample = None
        if ctx.is_main and args.sample_sovits is not None and not args.no_sample:
            from GPT_SoVITS.train.gpt_sample import GPTSampler

            sample = GPTSampler(args.sample_sovits, ctx.device)
        self.model.train()
        while self.epoch <= cfg.train.epochs:
            if not self.train_epoch(wrapped, metrics):
                break
            if self.epoch % args.save_every == 0 or self.epoch == cfg.train.epochs:
                self.save(len(self.sampler))
                if ctx.is_main:
                    self.export_and_sample(metrics, sample)
            self.epoch += 1
        metrics.close()
        final = self.last.get("loss/total", float("nan"))
        return f"{STAGE}: {self.step} steps ({self.opt_steps} optimiser steps); last loss {final:.3f}"

    def export_and_sample(self, metrics: Metrics, sample) -> None:
        path = export(self.model, self.cfg, self.args, self.epoch)
        if self.progress:
            self.progress.write("saved", path=str(path), epoch=self.epoch, step=self.step)
        if sample is not None:
            wav_path = sample(self.model, self.ds, self.exp, metrics, self.epoch, self.step)
            if self.progress:
                self.progress.write("sample", path=str(wav_path))

    def save(self, batches: int) -> None:
        """Training checkpoint (rank 0) after ``batches`` batches of the current epoch; all ranks wait."""
        if self.ctx.is_main:
            state = {
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scaler": self.amp.scaler.state_dict(),
                "epoch": self.epoch,
                "step": self.step,
                "opt_steps": self.opt_steps,
                "epoch_batches": batches,
                "rng": rng_state(),
            }
            self.ckpts.save(self.step, {"GPT": state})
            if self.progress:
                self.progress.write(
                    "checkpoint",
                    step=self.step,
                    epoch=self.epoch,
                    path=str(self.ckpts.path("GPT", self.step)),
                )
        barrier(self.ctx)


def run(args: argparse.Namespace, progress: ProgressLog | None) -> str:
    return GPTTraining(args, progress).run()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.train.gpt", description=__doc__.split("\n")[0])
    cli.add_common_args(p, default_weights=paths.GPT_WEIGHTS_DIR)
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
    args = build_parser().parse_args(argv)
    return cli.run_main(STAGE, args, run)


if __name__ == "__main__":
    sys.exit(main())
