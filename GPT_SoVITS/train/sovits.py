"""Train SoVITS (stage 2) on a formatted experiment; export official weights at each save.

``python -m GPT_SoVITS.train.sovits --exp logs/<exp> [--pretrained-g G.pth --pretrained-d D.pth] --epochs 8
--batch-size 4|auto --save-every 4``; several processes:
``torchrun --nproc-per-node N -m GPT_SoVITS.train.sovits ...``

Training checkpoints go to ``<exp>/logs_s2_<version>/G_<step>.pth`` + ``D_<step>.pth`` (official layout,
atomic, newest ``--keep`` kept) and a restart resumes from the newest complete pair. Each epoch save also
exports ``<weights-dir>/<exp>_e<E>_s<S>.pth`` (official format) and a resynthesised sample
``<exp>/samples/sovits_e<E>_s<S>.wav``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from GPT_SoVITS import paths
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.sampler import BucketBatchSampler
from GPT_SoVITS.data.sovits_dataset import SOVITS_BOUNDARIES, SoVITSDataset, collate_sovits
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
    seed_everything,
    start_run,
    wrap_ddp,
)
from GPT_SoVITS.train.sovits_step import (
    SoVITSNets,
    all_finite,
    build_nets,
    load_pretrained,
    restore_state,
    set_epoch_lr,
    train_step,
    training_state,
)

log = logging.getLogger(__name__)
STAGE = "train.sovits"


def load_config(args: argparse.Namespace) -> SoVITSConfig:
    """--config JSON, else the pretrained G's config, else the official defaults; then the flags."""
    if args.config is not None:
        cfg = SoVITSConfig.from_dict(json.loads(args.config.read_text(encoding="utf-8")))
    elif args.pretrained_g is not None:
        from GPT_SoVITS.checkpoints import load_sovits

        cfg = SoVITSConfig.from_dict(load_sovits(args.pretrained_g).config)
    else:
        cfg = SoVITSConfig()
    cfg.model.version = args.version
    cfg.model.semantic_frame_rate = "25hz"
    cli.apply_common(cfg.train, args, lr_field="learning_rate")
    if args.text_low_lr_rate is not None:
        cfg.train.text_low_lr_rate = args.text_low_lr_rate
    cfg.extra.update(name=args.name, version=args.version, pretrained_s2G=str(args.pretrained_g or ""))
    return cfg


def export(nets: SoVITSNets, cfg: SoVITSConfig, args: argparse.Namespace, epoch: int, step: int) -> Path:
    from GPT_SoVITS.checkpoints import save_sovits

    path = args.weights_dir / paths.sovits_weight_name(args.name, epoch, step)
    save_sovits(path, nets.g_core.state_dict(), cfg.to_dict(), f"{epoch}epoch_{step}iteration", args.version)
    return path


@torch.no_grad()
def sample(
    nets: SoVITSNets, ds: SoVITSDataset, exp: Experiment, metrics: Metrics, epoch: int, step: int
) -> Path:
    """Resynthesise the first training clip (its own codes, phones and spectrogram as reference)."""
    from GPT_SoVITS.audio import save_wav

    g = nets.g_core
    was_training = g.training
    g.eval()
    device = next(g.parameters()).device
    item = min(ds.items, key=lambda it: it.name)
    ssl, spec, _ = ds.load(item.name)
    codes = g.extract_latent(ssl.to(device)).transpose(0, 1)  # (n_q, 1, T)
    text = torch.tensor([item.phone_ids], dtype=torch.long, device=device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)  # the same noise at every save, so samples differ only by the weights
        wav = g.decode(codes, text, spec[None].to(device), noise_scale=0.5)
    g.train(was_training)
    out = exp.root / "samples" / f"sovits_e{epoch}_s{step}.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_wav(out, wav[0, 0].float().cpu().clamp(-1, 1).numpy(), ds.data.sampling_rate)
    metrics.audio("sample/sovits", wav[0], step, ds.data.sampling_rate)
    return out


class SoVITSTraining:
    """One training run: data, nets, optimisers and checkpoints are set up once, then ``run()``."""

    def __init__(self, args: argparse.Namespace, progress: ProgressLog | None) -> None:
        self.args, self.progress = args, progress
        self.exp = exp = Experiment(args.exp)
        self.ctx, self.amp = cli.setup_runtime(args)
        seed_everything(args.seed + self.ctx.rank)
        self.report = require_consistent(
            exp, "sovits", cli.list_entries(args), allow_missing=args.allow_missing
        )
        self.cfg = cfg = load_config(args)
        names = sorted(
            (set(exp.read_text()) & exp.hubert_names() & exp.wav_names()) - set(self.report.dropped)
        )
        self.ds = SoVITSDataset(exp, names, cli.phone_mapper(args.version), cfg.data, args.min_epoch_items)
        self.nets = build_nets(cfg, self.ctx.device)
        self.batch_size = self._batch_size()
        self.sampler = BucketBatchSampler(
            self.ds.lengths, self.batch_size, list(SOVITS_BOUNDARIES), self.ctx.world_size, self.ctx.rank,
            seed=cfg.train.seed,
        )  # fmt: skip
        # the loader's own generator: creating an epoch iterator must not draw from the global stream (resume)
        self.loader = DataLoader(
            self.ds, batch_sampler=self.sampler, collate_fn=collate_sovits, num_workers=args.num_workers,
            generator=torch.Generator().manual_seed(args.seed),
        )  # fmt: skip
        self.ckpts = CheckpointDir(exp.root / paths.ckpt_dir("sovits", args.version), ("G", "D"), args.keep)
        if self.ctx.is_main:
            remove_partials(self.ckpts.folder)
        self.epoch, self.step, self.start_batch, self.lr = 1, 0, 0, cfg.train.learning_rate
        self.last: dict[str, float] = {}

    def _batch_size(self) -> int:
        ds, args = self.ds, self.args
        size = cli.pick_batch_size(args.batch_size, self.cfg.train.batch_size, len(ds.items), self.ctx)
        if args.batch_size != "auto":
            return size
        longest = sorted(range(len(ds)), key=lambda i: -ds.lengths[i])

        def probe(bs: int) -> None:  # forward + backward on the longest clips, no update
            train_step(
                self.nets, collate_sovits([ds[i] for i in longest[:bs]]), self.cfg, self.amp, update=False
            )

        return find_batch_size(probe, size, self.ctx.device)

    def restore(self) -> None:
        """Resume from the newest G/D pair, else initialise from --pretrained-g/--pretrained-d."""
        resumed = self.ckpts.load_latest() if not self.args.restart else None
        if resumed is None:
            try:
                notes = load_pretrained(self.nets, self.args.pretrained_g, self.args.pretrained_d)
            except ValueError as e:
                raise cli.TrainError(str(e)) from e
            for note in notes:
                if self.progress:
                    self.progress.write("note", message=note)
            return
        n = len(self.sampler)
        done_epoch, step, batches = restore_state(self.nets, self.amp, resumed[1])
        self.step = step if step >= 0 else done_epoch * n  # official files: (epoch_str - 1) * len(loader)
        restore_rng(resumed[1]["G"].get("rng"), self.ctx.rank, self.args.seed, self.step)
        self.epoch, self.start_batch = (done_epoch, batches) if 0 <= batches < n else (done_epoch + 1, 0)
        log.info("resumed from step %d (epoch %d, batch %d)", self.step, self.epoch, self.start_batch)

    def train_epoch(self, metrics: Metrics) -> bool:
        """Batches of ``self.epoch`` from ``self.start_batch``; False when --max-steps stopped it."""
        args, ctx, n = self.args, self.ctx, len(self.sampler)
        self.lr = set_epoch_lr(self.nets, self.epoch, self.cfg.train.lr_decay)
        self.sampler.set_epoch(self.epoch, self.start_batch)
        for i, batch in enumerate(self.loader, start=self.start_batch):
            values = train_step(self.nets, batch, self.cfg, self.amp)
            if not all_finite(values):
                log.warning("step %d: non-finite loss %s", self.step, values)
            self.step += 1
            self.last = values
            log_now = ctx.is_main and self.step % args.log_interval == 0
            samples = batch[0].shape[0] * ctx.world_size
            metrics.step(self.step, self.epoch, samples, {**values, "lr": self.lr}, log_now)
            if args.save_every_steps and self.step % args.save_every_steps == 0 and i + 1 < n:
                self.save(i + 1)
            if args.max_steps and self.step >= args.max_steps:
                return False
        self.start_batch = 0
        return True

    def run(self) -> str:
        self.restore()
        ctx, args, cfg, nets = self.ctx, self.args, self.cfg, self.nets
        if ctx.distributed:
            nets.g, nets.d = wrap_ddp(nets.g, ctx), wrap_ddp(nets.d, ctx)
        total = cfg.train.epochs * len(self.sampler)
        tb_dir = self.ckpts.folder if ctx.is_main else None
        metrics = start_run(self.progress, STAGE, total, self.step, self.epoch, self.batch_size, tb_dir)
        nets.g.train()
        nets.d.train()
        while self.epoch <= cfg.train.epochs:
            if not self.train_epoch(metrics):
                break
            if self.epoch % args.save_every == 0 or self.epoch == cfg.train.epochs:
                self.save(len(self.sampler))
                if ctx.is_main:
                    self.export_and_sample(metrics)
            self.epoch += 1
        metrics.close()
        losses = ", ".join(
            f"{k.split('/')[-1]} {v:.3f}" for k, v in self.last.items() if k.startswith("loss/g")
        )
        return f"{STAGE}: {self.step} steps, {len(self.report.dropped)} dropped item(s); last {losses}"

    def export_and_sample(self, metrics: Metrics) -> None:
        path = export(self.nets, self.cfg, self.args, self.epoch, self.step)
        if self.progress:
            self.progress.write("saved", path=str(path), epoch=self.epoch, step=self.step)
        if not self.args.no_sample:
            wav_path = sample(self.nets, self.ds, self.exp, metrics, self.epoch, self.step)
            if self.progress:
                self.progress.write("sample", path=str(wav_path))

    def save(self, batches: int) -> None:
        """G/D training checkpoints (rank 0) after ``batches`` batches of the epoch; all ranks wait."""
        if self.ctx.is_main:
            state = training_state(self.nets, self.amp, self.epoch, self.step, batches, self.lr)
            self.ckpts.save(self.step, state)
            if self.progress:
                path = str(self.ckpts.path("G", self.step))
                self.progress.write("checkpoint", step=self.step, epoch=self.epoch, path=path)
        barrier(self.ctx)


def run(args: argparse.Namespace, progress: ProgressLog | None) -> str:
    return SoVITSTraining(args, progress).run()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m GPT_SoVITS.train.sovits", description=__doc__.split("\n")[0])
    cli.add_common_args(p, default_weights=paths.SOVITS_WEIGHTS_DIR)
    p.add_argument("--pretrained-g", type=Path, default=None, help="pretrained generator weights (s2G*.pth)")
    p.add_argument(
        "--pretrained-d", type=Path, default=None, help="pretrained discriminator weights (s2D*.pth)"
    )
    p.add_argument(
        "--config", type=Path, default=None, help="s2 JSON config (default: pretrained G's, or s2.json)"
    )
    p.add_argument("--text-low-lr-rate", type=float, default=None, help="lr factor of the text encoder (0.4)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_main(STAGE, args, run)


if __name__ == "__main__":
    sys.exit(main())
