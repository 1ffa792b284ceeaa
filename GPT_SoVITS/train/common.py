"""What both trainers share: seeding, DDP from torchrun's environment, AMP, atomic checkpoints with
resume and rotation, metrics (progress.jsonl + TensorBoard) with an ETA.

Training checkpoints are ``<name>_<step>.pth`` files (SoVITS: ``G_<step>.pth`` + ``D_<step>.pth`` as the
official ``utils.save_checkpoint``: ``model``, ``optimizer``, ``learning_rate``, ``iteration`` = epoch, plus
our ``step``/``epoch_batches``/``scaler``). Each file is written to a dot-prefixed temp file and renamed, so
a kill leaves either the old or the new complete file; resume takes the newest step every name has.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from GPT_SoVITS.fileio import atomic_torch_save
from GPT_SoVITS.progress import ProgressLog

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The random generators' state (dropout masks, slices), stored in training checkpoints as plain data
    and tensors only, so that resuming loads them with ``weights_only=True`` (no unpickling)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any] | None, rank: int, seed: int, step: int) -> None:
    """Rank 0 continues the saved random stream exactly (a resumed run equals an uninterrupted one); other
    ranks, whose streams were not saved, reseed from (seed, rank, step)."""
    if state is None or rank != 0:
        seed_everything(seed + rank + 1000 * step)
        return
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------------------------------------
# Distributed


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_*); a no-op alone.

    CUDA processes use NCCL and device ``cuda:<LOCAL_RANK>``; CPU processes use gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, rank=rank, world_size=world)
        log.info("DDP rank %d/%d on %s (%s)", rank, world, device, backend)
    return DistContext(rank, world, local, device)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


# --------------------------------------------------------------------------------------------------------
# Mixed precision


class Amp:
    """autocast + GradScaler for ``precision`` on ``device`` (fp16 scales losses; bf16/fp32 do not)."""

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device = device
        self.dtype = dtype
        self.enabled = dtype != torch.float32 and device.type in ("cuda", "cpu")
        use_scaler = dtype == torch.float16 and device.type == "cuda"
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)


# --------------------------------------------------------------------------------------------------------
# Atomic files, training checkpoints, rotation

PARTIAL_SUFFIXES = (".partial", ".tmp")
# What torch.load raises for a truncated or damaged file (zip reader, unpickler, short read).
DAMAGED_FILE_ERRORS = (RuntimeError, OSError, EOFError, pickle.UnpicklingError)


def remove_partials(folder: Path) -> int:
    """Delete temp files a killed run left behind (dot-prefixed ``*.partial`` / ``*.tmp``)."""
    n = 0
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIXES):
                p.unlink(missing_ok=True)
                n += 1
    return n


class CheckpointDir:
    """``<folder>/<key>_<step>.pth`` for a fixed set of keys (e.g. ``("G", "D")``), newest ``keep`` kept."""

    def __init__(self, folder: Path, keys: tuple[str, ...], keep: int = 2) -> None:
        self.folder = Path(folder)
        self.keys = keys
        self.keep = max(1, keep)

    def path(self, key: str, step: int) -> Path:
        return self.folder / f"{key}_{step}.pth"

    def steps(self, key: str) -> list[int]:
        if not self.folder.is_dir():
            return []
        pat = re.compile(rf"^{re.escape(key)}_(\d+)\.pth$")
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := pat.match(p.name)))

    def complete_steps(self) -> list[int]:
        """Steps for which every key has a file, oldest first."""
        common = set(self.steps(self.keys[0]))
        for key in self.keys[1:]:
            common &= set(self.steps(key))
        return sorted(common)

    def save(self, step: int, states: dict[str, dict[str, Any]]) -> None:
        for key in self.keys:
            atomic_torch_save(states[key], self.path(key, step))
        self.rotate()

    def rotate(self) -> None:
        complete = self.complete_steps()
        keep = set(complete[-self.keep :])
        for key in self.keys:
            for s in self.steps(key):
                # incomplete steps older than the newest complete one can never be resumed from
                if s not in keep and (not complete or s < complete[-1]):
                    self.path(key, s).unlink(missing_ok=True)

    def load_latest(self) -> tuple[int, dict[str, dict[str, Any]]] | None:
        """(step, {key: state}) of the newest complete step that loads, or None on a fresh start."""
        for step in reversed(self.complete_steps()):
            try:
                states = {
                    k: torch.load(self.path(k, step), map_location="cpu", weights_only=True)
                    for k in self.keys
                }
            except DAMAGED_FILE_ERRORS as e:  # a damaged file: fall back to the previous step
                log.warning("checkpoint step %d unreadable (%s); trying an older one", step, e)
                continue
            return step, states
        return None


# --------------------------------------------------------------------------------------------------------
# Metrics


def wrap_ddp(module: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """DistributedDataParallel around ``module`` (its device on CUDA); parameters a step leaves unused
    (the DPO branch, the discriminator during generator steps) are allowed."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def start_run(
    progress: ProgressLog | None, stage: str, total: int, step: int, epoch: int, batch_size: int, tb_dir
) -> Metrics:
    """Announce a training run in progress.jsonl (when logging) and return its Metrics."""
    if progress:
        progress.write("start", stage=stage, total=total, step=step, epoch=epoch, batch_size=batch_size)
    return Metrics(progress, tb_dir, total)


class Metrics:
    """progress.jsonl ``metric`` events (rank 0) with samples/s and an ETA, plus TensorBoard scalars."""

    def __init__(self, progress: ProgressLog | None, tb_dir: Path | None, total_steps: int) -> None:
        self.progress = progress
        self.total_steps = total_steps
        self.writer = None
        if tb_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=str(tb_dir))
            except ImportError as e:  # tensorboard is optional at run time
                log.warning("TensorBoard disabled: %s", e)
        self._t0 = time.perf_counter()
        self._samples = 0
        self._steps = 0

    def step(
        self, step: int, epoch: int, batch_samples: int, values: dict[str, float], log_now: bool
    ) -> None:
        self._samples += batch_samples
        self._steps += 1
        if not log_now:
            return
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        rate = self._samples / elapsed
        steps_left = max(self.total_steps - step - 1, 0)
        eta = steps_left * elapsed / self._steps
        clean = {k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}
        if self.progress is not None:
            self.progress.write(
                "metric", step=step, epoch=epoch, samples_per_s=round(rate, 3), eta_s=round(eta, 1), **clean
            )
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)
            self.writer.add_scalar("samples_per_s", rate, step)

    def audio(self, tag: str, wav: torch.Tensor, step: int, sr: int) -> None:
        if self.writer is not None:
            self.writer.add_audio(tag, wav.detach().float().cpu().clamp(-1, 1).reshape(1, -1), step, sr)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def find_batch_size(try_step: Callable[[int], None], start: int, device: torch.device) -> int:
    """Largest batch size <= ``start`` for which ``try_step(bs)`` runs, halving on CUDA out-of-memory.

    On CPU there is no memory probe: ``start`` is returned.
    """
    if device.type != "cuda":
        return start
    bs = start
    while bs >= 1:
        try:
            try_step(bs)
            torch.cuda.empty_cache()
            return bs
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            log.warning("batch size %d does not fit on %s; halving", bs, device)
            bs //= 2
    raise RuntimeError(f"even batch size 1 does not fit on {device}")
