"""Flags and entry-point plumbing both trainers share (one place for defaults and error handling).

Errors follow ``GPT_SoVITS.stage``: bad flags or experiment data exit 2 with one line, running out of GPU
memory exits 1 with one line, anything else is a bug (traceback, exit 1).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from GPT_SoVITS.data.experiment import ExperimentError
from GPT_SoVITS.listfile import ListEntry, read_entries
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import (
    StageError,
    StageFailure,
    add_device_args,
    resolve_device_args,
    stage_main,
    stage_parser,
)
from GPT_SoVITS.train.common import Amp, DistContext, cleanup_distributed, remove_partials, setup_distributed
from GPT_SoVITS.versions import DEFAULT_VERSION, version_names

log = logging.getLogger(__name__)


def batch_size_arg(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"--batch-size must be a positive integer or 'auto', got {value!r}"
        ) from e
    if n < 1:
        raise argparse.ArgumentTypeError(f"--batch-size must be >= 1, got {n}")
    return n


def train_parser(module: str, doc: str | None, default_weights: Path) -> argparse.ArgumentParser:
    """The shared stage convention plus the flags both trainers take."""
    p = stage_parser(module, doc)
    add_common_args(p, default_weights)
    return p


def add_common_args(p: argparse.ArgumentParser, default_weights: Path) -> None:
    p.add_argument("--exp", type=Path, required=True, help="experiment folder (logs/<exp>) made by prepare.*")
    p.add_argument("--name", default=None, help="name of the exported weights (default: the folder name)")
    p.add_argument("--epochs", type=int, default=None, help="total epochs (default: the config's)")
    p.add_argument("--batch-size", type=batch_size_arg, default=None, help="per-process batch size or 'auto'")
    p.add_argument(
        "--save-every", type=int, default=1, help="save and export every N epochs (and at the end)"
    )
    p.add_argument("--save-every-steps", type=int, default=0, help="also checkpoint every N steps (0: off)")
    p.add_argument("--keep", type=int, default=2, help="training checkpoints kept (newest first)")
    p.add_argument("--weights-dir", type=Path, default=default_weights, help="where exported weights go")
    add_device_args(p, precision="auto", auto=True)  # torchrun: each rank uses its local GPU
    p.add_argument(
        "--version",
        default=DEFAULT_VERSION.value,
        choices=version_names(lambda s: s.trains),
        help="model version",
    )
    p.add_argument("--seed", type=int, default=1234, help="random seed (each DDP rank adds its rank)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the config's)")
    p.add_argument("--log-interval", type=int, default=10, help="steps between metric lines")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument(
        "--min-epoch-items",
        type=int,
        default=100,
        help="repeat a small data set to this many items per epoch",
    )
    p.add_argument(
        "--max-steps", type=int, default=0, help="stop after this many steps in total (0: no limit)"
    )
    p.add_argument(
        "--list", type=Path, default=None, help=".list file: also check every listed item is present"
    )
    p.add_argument(
        "--allow-missing", action="store_true", help="train on the complete items, skip the others"
    )
    p.add_argument("--restart", action="store_true", help="ignore existing training checkpoints")
    p.add_argument("--no-sample", action="store_true", help="no sample synthesis at each save")


def apply_common(train_cfg: object, args: argparse.Namespace, lr_field: str | None) -> None:
    """Flags that override the config's train section."""
    if args.epochs is not None:
        if args.epochs < 1:
            raise StageError(f"--epochs must be >= 1, got {args.epochs}", field="--epochs")
        train_cfg.epochs = args.epochs  # type: ignore[attr-defined]
    if isinstance(args.batch_size, int):
        train_cfg.batch_size = args.batch_size  # type: ignore[attr-defined]
    if args.lr is not None and lr_field:
        setattr(train_cfg, lr_field, args.lr)
    train_cfg.seed = args.seed  # type: ignore[attr-defined]
    if args.save_every < 1:
        raise StageError(f"--save-every must be >= 1, got {args.save_every}", field="--save-every")


def setup_runtime(args: argparse.Namespace) -> tuple[DistContext, Amp]:
    device, dtype = resolve_device_args(args)
    ctx = setup_distributed(device)
    return ctx, Amp(ctx.device, dtype)


def list_entries(args: argparse.Namespace) -> list[ListEntry] | None:
    if args.list is None:
        return None
    return read_entries(args.list, check_audio=False)  # ListFileError names the file and line


def phone_mapper(version: str) -> Callable[[Sequence[str]], list[int]]:
    """Phones -> ids in the symbol table of ``version`` (the frontend's ``phones_to_ids``); an unknown phone
    is an ExperimentError (the experiment was formatted for another version)."""
    from GPT_SoVITS.text.frontend import FrontendError, phones_to_ids

    def to_ids(phones: Sequence[str]) -> list[int]:
        try:
            return phones_to_ids(list(phones), version)
        except FrontendError as e:
            raise ExperimentError(str(e)) from e

    return to_ids


def pick_batch_size(requested: int | str | None, default: int, n_items: int, ctx: DistContext) -> int:
    """An explicit size as given; None: the config's; 'auto': the config's, capped at the data per rank.

    (On CUDA the trainer then halves it while a trial step runs out of memory.)
    """
    if isinstance(requested, int):
        return requested
    size = default
    if requested == "auto":
        size = max(1, min(default, n_items // ctx.world_size))
    return size


def _progress(args: argparse.Namespace) -> ProgressLog | None:
    """Rank 0 reports to ``<exp>/progress.jsonl`` (the folder must exist: prepare.* made it)."""
    rank = int(os.environ.get("RANK", "0"))
    return ProgressLog(args.exp) if rank == 0 and args.exp.is_dir() else None


def train_main(
    stage: str,
    parser: argparse.ArgumentParser,
    training: Callable[[argparse.Namespace, ProgressLog | None], object],
    argv: list[str] | None,
) -> int:
    """A trainer's ``main``: ``training(args, progress).run()`` under the shared stage runtime."""

    def run(args: argparse.Namespace) -> int:
        if args.name is None:
            args.name = args.exp.resolve().name
        progress = _progress(args)
        main_rank = int(os.environ.get("RANK", "0")) == 0
        if main_rank:
            for folder in (args.weights_dir, args.exp):
                remove_partials(Path(folder))
        try:
            message = training(args, progress).run()
        except torch.cuda.OutOfMemoryError as e:
            log.warning("%s", e)
            raise StageFailure("out of GPU memory; lower --batch-size") from e
        finally:
            cleanup_distributed()
        if progress:
            progress.write("end", stage=stage, ok=True, message=message)
        if main_rank:
            print(message)
        return 0

    return stage_main(argv, parser, run, stage, progress=_progress)
