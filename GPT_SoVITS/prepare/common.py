"""Shared pieces of the three formatting stages: common flags, ``--part i/n``, part-file merging, report."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from GPT_SoVITS.data.experiment import Experiment, ExperimentError
from GPT_SoVITS.data.validate import ValidationReport, check_experiment
from GPT_SoVITS.devices import resolve_device, resolve_dtype
from GPT_SoVITS.listfile import ListEntry, ListFileError, read_entries
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.versions import DEFAULT_VERSION, version_names

log = logging.getLogger(__name__)


class StageError(Exception):
    """A stage cannot run; main() prints the message on one line and exits 2."""


def parse_part(spec: str) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) -> (i, n); argparse type."""
    try:
        i_s, n_s = spec.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--part must look like i/n (e.g. 0/2), got {spec!r}") from e
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--part {spec}: need 0 <= i < n")
    return i, n


def add_common_args(p: argparse.ArgumentParser, list_required: bool = True) -> None:
    p.add_argument("--exp", type=Path, required=True, help="experiment folder (logs/<exp>)")
    p.add_argument("--list", type=Path, required=list_required, help=".list file: path|speaker|lang|text")
    p.add_argument("--audio-root", type=Path, default=None, help="folder that relative .list paths are under")
    p.add_argument("--part", type=parse_part, default=(0, 1), help="this process's share i/n (default 0/1)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"], help="model precision")
    p.add_argument(
        "--version",
        default=DEFAULT_VERSION.value,
        choices=version_names(lambda s: s.prepares),
        help="model version",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def load_entries(list_path: Path | None, audio_root: Path | None) -> list[ListEntry] | None:
    if list_path is None:
        return None
    try:
        return read_entries(list_path, check_audio=True, audio_root=audio_root)
    except ListFileError as e:
        raise StageError(str(e)) from e


def audio_path(entry: ListEntry, list_path: Path, audio_root: Path | None) -> Path:
    p = Path(entry.path)
    return p if p.is_absolute() else (audio_root or list_path.parent) / p


def resolve(args: argparse.Namespace):  # -> tuple[torch.device, torch.dtype]
    try:
        device = resolve_device(args.device)
        return device, resolve_dtype(args.precision, device)
    except ValueError as e:
        raise StageError(str(e)) from e


@contextlib.contextmanager
def merge_lock(exp: Experiment) -> Iterator[None]:
    """Serialise part merges of concurrent ``--part`` processes (advisory lock where the OS has one)."""
    exp.root.mkdir(parents=True, exist_ok=True)
    with open(exp.root / ".merge.lock", "a+") as f:
        try:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # Windows: parts finishing in the same instant may both merge (same result)
            pass
        yield


def merge_parts(
    exp: Experiment, n: int, part_path: Callable[[int], Path], merge: Callable[[list[Path]], None]
) -> bool:
    """When all ``n`` part files exist, call ``merge(parts)``, delete them; True if merged."""
    with merge_lock(exp):
        parts = [part_path(i) for i in range(n)]
        if not all(p.is_file() for p in parts):
            return False
        merge(parts)
        for p in parts:
            p.unlink(missing_ok=True)
        return True


def run_stage(name: str, exp: Experiment, body: Callable[[ProgressLog], str]) -> int:
    """Run ``body`` with start/end progress events; StageError -> one line on stderr, exit 2."""
    progress = ProgressLog(exp.root)
    try:
        message = body(progress)
    except StageError as e:
        progress.write("end", stage=name, ok=False, message=str(e))
        print(f"error: {e}", file=sys.stderr)
        return 2
    progress.write("end", stage=name, ok=True, message=message)
    print(message)
    return 0


def stage_main(
    name: str,
    parser: argparse.ArgumentParser,
    process: Callable[[argparse.Namespace, ProgressLog], str],
    argv: list[str] | None,
) -> int:
    """A formatting stage's ``main``: parse, set up logging, run ``process`` (experiment errors end it)."""
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    def body(progress: ProgressLog) -> str:
        try:
            return process(args, progress)
        except ExperimentError as e:
            raise StageError(str(e)) from e

    return run_stage(name, Experiment(args.exp), body)


def final_report(exp: Experiment, stage: str, entries: Sequence[ListEntry] | None) -> ValidationReport:
    report = check_experiment(exp, stage, entries)
    print(report.summary())
    return report


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
