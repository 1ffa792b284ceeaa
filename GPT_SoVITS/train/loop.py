"""The training loop both trainers share; each trainer plugs in its model-specific steps.

:class:`TrainingRun` owns what is the same for SoVITS and GPT: the batch size (``auto`` probes the longest
items), resume from the newest complete checkpoint (or a fresh start from pretrained weights), the epoch
loop with ``--max-steps`` and mid-epoch checkpoints, rotation, the official export and sample at each
save, and the ``start``/``metric``/``checkpoint``/``saved``/``sample`` progress events. A subclass sets
``stage``, ``kind`` (checkpoint folder) and ``ckpt_keys`` and implements the hooks below.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from GPT_SoVITS import paths
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.sampler import BucketBatchSampler
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.train import cli
from GPT_SoVITS.train.common import (
    CheckpointDir,
    Metrics,
    barrier,
    find_batch_size,
    remove_partials,
    restore_rng,
    start_run,
)

log = logging.getLogger(__name__)


class TrainingRun:
    """One training run: the subclass builds data and model in ``__init__`` (ending with
    :meth:`setup_data`), then ``run()`` trains and returns the summary line."""

    stage: str  # progress/log name, e.g. "train.sovits"
    kind: str  # "sovits" | "gpt": the checkpoint folder logs_s2_<version> | logs_s1_<version>
    ckpt_keys: tuple[str, ...]  # training checkpoint files per step, e.g. ("G", "D")
    cfg: Any  # the model's typed config, set by the subclass (``cfg.train.epochs`` ends the run)

    def __init__(self, args: argparse.Namespace, progress: ProgressLog | None) -> None:
        self.args, self.progress = args, progress
        self.exp = Experiment(args.exp)
        self.ctx, self.amp = cli.setup_runtime(args)
        self.ckpts = CheckpointDir(
            self.exp.root / paths.ckpt_dir(self.kind, args.version), self.ckpt_keys, args.keep
        )
        if self.ctx.is_main:
            remove_partials(self.ckpts.folder)
        self.epoch, self.step, self.start_batch = 1, 0, 0
        self.last: dict[str, float] = {}  # the values of the newest step

    # ---- hooks of the model-specific trainer -------------------------------------------------------------

    def probe(self, indices: Sequence[int]) -> None:
        """Forward + backward on these items, no update (the ``auto`` batch-size memory probe)."""
        raise NotImplementedError

    def init_weights(self) -> list[str]:
        """A fresh start: load the pretrained weights; returns notes for the progress file."""
        raise NotImplementedError

    def load_state(self, states: Mapping[str, Mapping[str, Any]]) -> tuple[int, int, int]:
        """Load a training checkpoint; returns (epoch, step or -1 if unknown, batches done in that epoch)."""
        raise NotImplementedError

    def state(self, batches: int) -> dict[str, dict[str, Any]]:
        """The training checkpoint ({key: state}) after ``batches`` batches of the current epoch."""
        raise NotImplementedError

    def start(self) -> None:
        """After restore, before the first step: DDP wrapping, train mode, helpers."""

    def begin_epoch(self) -> None:
        """Per-epoch settings (learning rate)."""

    def train_batch(self, index: int, batch: Any) -> tuple[dict[str, float], int]:
        """One training step on batch ``index`` of the epoch; returns (metric values, items in the batch)."""
        raise NotImplementedError

    def can_save_at(self, index: int) -> bool:
        """Whether a mid-epoch checkpoint may follow batch ``index`` (not inside gradient accumulation)."""
        return True

    def export(self) -> Path:
        """Write the official weights of the current epoch; returns their path."""
        raise NotImplementedError

    def sample(self, metrics: Metrics) -> Path | None:
        """Synthesise the save's sample, if any; returns its path."""
        return None

    def summary(self) -> str:
        raise NotImplementedError

    # ---- the shared loop ---------------------------------------------------------------------------------

    def setup_data(
        self, ds: Dataset, boundaries: list[int] | None, collate: Callable, default_bs: int, seed: int
    ):
        """Batch size (``auto``: probed), the bucketing sampler of this rank and the loader."""
        self.ds = ds
        self.batch_size = self._batch_size(default_bs)
        ctx = self.ctx
        self.sampler = BucketBatchSampler(
            ds.lengths, self.batch_size, boundaries, ctx.world_size, ctx.rank, seed=seed
        )
        # the loader's own generator: creating an epoch iterator must not draw from the global stream (resume)
        self.loader = DataLoader(
            ds, batch_sampler=self.sampler, collate_fn=collate, num_workers=self.args.num_workers,
            generator=torch.Generator().manual_seed(self.args.seed),
        )  # fmt: skip

    def _batch_size(self, default: int) -> int:
        ds, args = self.ds, self.args
        size = cli.pick_batch_size(args.batch_size, default, len(ds.items), self.ctx)
        if args.batch_size != "auto":
            return size
        longest = sorted(range(len(ds)), key=lambda i: -ds.lengths[i])
        return find_batch_size(lambda bs: self.probe(longest[:bs]), size, self.ctx.device)

    def restore(self) -> None:
        """Resume from the newest complete checkpoint, else start from the pretrained weights."""
        resumed = self.ckpts.load_latest() if not self.args.restart else None
        if resumed is None:
            for note in self.init_weights():
                if self.progress:
                    self.progress.write("note", message=note)
            return
        n = len(self.sampler)
        epoch, step, batches = self.load_state(resumed[1])
        self.step = step if step >= 0 else epoch * n  # official files: (epoch_str - 1) * len(loader)
        restore_rng(resumed[1][self.ckpt_keys[0]].get("rng"), self.ctx.rank, self.args.seed, self.step)
        self.epoch, self.start_batch = (epoch, batches) if 0 <= batches < n else (epoch + 1, 0)
        log.info("resumed from step %d (epoch %d, batch %d)", self.step, self.epoch, self.start_batch)

    def train_epoch(self, metrics: Metrics) -> bool:
        """Batches of ``self.epoch`` from ``self.start_batch``; False when --max-steps stopped it."""
        args, ctx, n = self.args, self.ctx, len(self.sampler)
        self.begin_epoch()
        self.sampler.set_epoch(self.epoch, self.start_batch)
        for i, batch in enumerate(self.loader, start=self.start_batch):
            values, items = self.train_batch(i, batch)
            self.step += 1
            self.last = values
            log_now = ctx.is_main and self.step % args.log_interval == 0
            metrics.step(self.step, self.epoch, items * ctx.world_size, values, log_now)
            every = args.save_every_steps
            if every and self.step % every == 0 and i + 1 < n and self.can_save_at(i):
                self.save(i + 1)
            if args.max_steps and self.step >= args.max_steps:
                return False
        self.start_batch = 0
        return True

    def run(self) -> str:
        self.restore()
        self.start()
        epochs = self.cfg.train.epochs
        tb_dir = self.ckpts.folder if self.ctx.is_main else None
        total = epochs * len(self.sampler)
        metrics = start_run(self.progress, self.stage, total, self.step, self.epoch, self.batch_size, tb_dir)
        while self.epoch <= epochs:
            if not self.train_epoch(metrics):
                break
            if self.epoch % self.args.save_every == 0 or self.epoch == epochs:
                self.save(len(self.sampler))
                if self.ctx.is_main:
                    self.export_and_sample(metrics)
            self.epoch += 1
        metrics.close()
        return self.summary()

    def export_and_sample(self, metrics: Metrics) -> None:
        path = self.export()
        if self.progress:
            self.progress.write("saved", path=str(path), epoch=self.epoch, step=self.step)
        wav_path = self.sample(metrics)
        if wav_path is not None and self.progress:
            self.progress.write("sample", path=str(wav_path))

    def save(self, batches: int) -> None:
        """Training checkpoint (rank 0) after ``batches`` batches of the current epoch; all ranks wait."""
        if self.ctx.is_main:
            self.ckpts.save(self.step, self.state(batches))
            if self.progress:
                path = str(self.ckpts.path(self.ckpt_keys[0], self.step))
                self.progress.write("checkpoint", step=self.step, epoch=self.epoch, path=path)
        barrier(self.ctx)
