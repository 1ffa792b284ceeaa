"""Flags and entry-point plumbing both trainers share (one place for defaults and error handling)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from GPT_SoVITS.checkpoints import CheckpointError
from GPT_SoVITS.data.experiment import ExperimentError
from GPT_SoVITS.devices import resolve_device, resolve_dtype
from GPT_SoVITS.listfile import ListEntry, ListFileError, read_entries
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.train.common import Amp, DistContext, cleanup_distributed, remove_partials, setup_distributed
from GPT_SoVITS.versions import DEFAULT_VERSION, version_names

log = logging.getLogger(__name__)


class TrainError(Exception):
    """Bad input for a trainer; printed on one line, exit code 2."""


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
    p.add_argument(
        "--device", default="auto", help="auto | cpu | cuda | cuda:N (torchrun: the local rank's GPU)"
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "fp16", "bf16"],
        help="auto: fp16 on CUDA, else fp32",
    )
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
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def apply_common(train_cfg: object, args: argparse.Namespace, lr_field: str | None) -> None:
    """Flags that override the config's train section."""
    if args.epochs is not None:
        if args.epochs < 1:
            raise TrainError(f"--epochs must be >= 1, got {args.epochs}")
        train_cfg.epochs = args.epochs  # type: ignore[attr-defined]
    if isinstance(args.batch_size, int):
        train_cfg.batch_size = args.batch_size  # type: ignore[attr-defined]
    if args.lr is not None and lr_field:
        setattr(train_cfg, lr_field, args.lr)
    train_cfg.seed = args.seed  # type: ignore[attr-defined]
    if args.save_every < 1:
        raise TrainError(f"--save-every must be >= 1, got {args.save_every}")


def setup_runtime(args: argparse.Namespace) -> tuple[DistContext, Amp]:
    try:
        device = resolve_device(args.device)
        precision = (
            args.precision if args.precision != "auto" else ("fp16" if device.type == "cuda" else "fp32")
        )
        dtype = resolve_dtype(precision, device)
    except ValueError as e:
        raise TrainError(str(e)) from e
    ctx = setup_distributed(device)
    return ctx, Amp(ctx.device, dtype)


def list_entries(args: argparse.Namespace) -> list[ListEntry] | None:
    if args.list is None:
        return None
    try:
        return read_entries(args.list, check_audio=False)
    except ListFileError as e:
        raise TrainError(str(e)) from e


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


def run_main(
    stage: str, args: argparse.Namespace, run: Callable[[argparse.Namespace, ProgressLog | None], str]
) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.name is None:
        args.name = args.exp.resolve().name
    rank = int(os.environ.get("RANK", "0"))
    progress = ProgressLog(args.exp) if rank == 0 and args.exp.is_dir() else None
    if rank == 0:
        for folder in (args.weights_dir, args.exp):
            remove_partials(Path(folder))
    try:
        message = run(args, progress)
    except (TrainError, ExperimentError, CheckpointError, ListFileError, FileNotFoundError) as e:
        if progress:
            progress.write("end", stage=stage, ok=False, message=str(e))
        print(f"error: {e}", file=sys.stderr)
        return 2
    except torch.cuda.OutOfMemoryError as e:
        if progress:
            progress.write("end", stage=stage, ok=False, message=f"out of GPU memory: {e}")
        print("error: out of GPU memory; lower --batch-size", file=sys.stderr)
        return 1
    finally:
        cleanup_distributed()
    if progress:
        progress.write("end", stage=stage, ok=True, message=message)
    if rank == 0:
        print(message)
    return 0
