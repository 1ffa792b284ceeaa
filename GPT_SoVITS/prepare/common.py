"""Shared pieces of the three formatting stages: common flags, ``--part i/n``, part-file merging, report.

Each stage's ``process(args, progress)`` returns its summary line and whether every item went through;
:func:`prepare_main` runs it under ``GPT_SoVITS.stage.stage_main`` (bad input: one line, exit 2) and
exits 1 when items were dropped for their own errors (named in ``dropped.tsv`` and the progress file).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.validate import ValidationReport, check_experiment
from GPT_SoVITS.listfile import ListEntry, read_entries
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import add_device_args, stage_main, stage_parser
from GPT_SoVITS.versions import DEFAULT_VERSION, version_names

log = logging.getLogger(__name__)


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


def prepare_parser(module: str, doc: str | None, list_required: bool = True) -> argparse.ArgumentParser:
    """The shared convention plus the flags every formatting stage takes."""
    p = stage_parser(module, doc)
    add_common_args(p, list_required)
    return p


def add_common_args(p: argparse.ArgumentParser, list_required: bool = True) -> None:
    p.add_argument("--exp", type=Path, required=True, help="experiment folder (logs/<exp>)")
    p.add_argument("--list", type=Path, required=list_required, help=".list file: path|speaker|lang|text")
    p.add_argument("--audio-root", type=Path, default=None, help="folder that relative .list paths are under")
    p.add_argument("--part", type=parse_part, default=(0, 1), help="this process's share i/n (default 0/1)")
    add_device_args(p)
    p.add_argument(
        "--version",
        default=DEFAULT_VERSION.value,
        choices=version_names(lambda s: s.prepares),
        help="model version",
    )


def load_entries(list_path: Path | None, audio_root: Path | None) -> list[ListEntry] | None:
    if list_path is None:
        return None
    return read_entries(list_path, check_audio=True, audio_root=audio_root)  # ListFileError names the line


def audio_path(entry: ListEntry, list_path: Path, audio_root: Path | None) -> Path:
    p = Path(entry.path)
    return p if p.is_absolute() else (audio_root or list_path.parent) / p


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


def prepare_main(
    name: str,
    parser: argparse.ArgumentParser,
    process: Callable[[argparse.Namespace, ProgressLog], tuple[str, bool]],
    argv: list[str] | None,
) -> int:
    """A formatting stage's ``main``: parse, run ``process`` with start/end events in the experiment."""

    def run(args: argparse.Namespace) -> int:
        progress = ProgressLog(Experiment(args.exp).root)
        message, ok = process(args, progress)
        progress.write("end", stage=name, ok=ok, message=message)
        print(message)
        return 0 if ok else 1

    return stage_main(argv, parser, run, name, progress=lambda args: ProgressLog(Experiment(args.exp).root))


def final_report(exp: Experiment, stage: str, entries: Sequence[ListEntry] | None) -> ValidationReport:
    report = check_experiment(exp, stage, entries)
    print(report.summary())
    return report
