"""What every data-prep stage shares: input discovery, output naming, the per-file loop with progress.

A stage reads a file or a folder and writes into an output folder that is not the input folder. Each
input file is processed on its own: a file that cannot be used (``GPT_SoVITS.stage.ITEM_ERRORS``: bad
audio, an unreadable file) is reported (stderr line and a ``skip`` progress event naming it and the
reason) and skipped, the rest go on, and the stage exits 1 if anything was skipped; any other exception
is a bug and stops the stage. Problems with the arguments themselves (missing input, empty folder,
missing model) are :class:`~GPT_SoVITS.stage.StageError`: exit 2 (``GPT_SoVITS.stage.stage_main``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from GPT_SoVITS.audio import AudioError
from GPT_SoVITS.errors import UserError
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import ITEM_ERRORS, StageError, stage_parser

# Extensions a stage picks up from an input folder; other files there (notes, lists) are ignored.
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".m4a",
        ".aac",
        ".wma",
        ".aif",
        ".aiff",
        ".webm",
        ".mp4",
    }
)
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")


class ItemError(UserError):
    """One input file cannot be processed (its name, its content); the stage reports it and goes on."""


@dataclass
class Inputs:
    files: list[Path]  # audio files to process, sorted
    ignored: list[Path] = field(default_factory=list)  # files in the folder without an audio extension
    root: Path | None = None  # the input folder, or None for a single-file input


def find_inputs(path: Path, extensions: Iterable[str] = AUDIO_EXTENSIONS) -> Inputs:
    """A single file, or the files (not sub-folders, not hidden) of a folder with an audio extension."""
    if path.is_file():
        return Inputs([path])
    if not path.exists():
        raise StageError(f"input not found: {path}")
    if not path.is_dir():
        raise StageError(f"input is neither a file nor a folder: {path}")
    exts = {e.lower() for e in extensions}
    entries = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    files = [p for p in entries if p.suffix.lower() in exts]
    ignored = [p for p in entries if p.suffix.lower() not in exts]
    if not files:
        raise StageError(f"no audio files in {path} (looked for {', '.join(sorted(exts))})")
    return Inputs(files, ignored, path)


def prepare_output(output: Path, inputs: Inputs) -> Path:
    """Create the output folder; refuse the input folder itself, so inputs are never touched."""
    if inputs.root is not None and output.resolve() == inputs.root.resolve():
        raise StageError(f"output folder must differ from the input folder: {output}", record=False)
    if output.exists() and not output.is_dir():
        raise StageError(f"output exists and is not a folder: {output}")
    output.mkdir(parents=True, exist_ok=True)
    return output


class OutputNames:
    """Output file names for one run: ``<stem><suffix>``, or ``<name><suffix>`` when two inputs share a
    stem (song.mp3 and song.wav), so no output overwrites another or an input."""

    def __init__(self, folder: Path, inputs: Iterable[Path]) -> None:
        self.folder = folder
        stems: dict[str, int] = {}
        for p in inputs:
            stems[p.stem] = stems.get(p.stem, 0) + 1
        self._shared = {s for s, n in stems.items() if n > 1}

    def base(self, inp: Path) -> str:
        return inp.name if inp.stem in self._shared else inp.stem

    def path(self, inp: Path, suffix: str = ".wav") -> Path:
        out = self.folder / f"{self.base(inp)}{suffix}"
        if out.resolve() == inp.resolve():
            raise ItemError(f"output would overwrite the input {inp}", field=str(inp))
        return out


def tool_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """A data-prep stage's parser: the shared convention plus ``--input``/``--output``."""
    parser = stage_parser(module, doc)
    add_io_args(parser)
    return parser


def output_progress(args: argparse.Namespace) -> ProgressLog | None:
    """The output folder's progress log, where that folder can exist (for the failure's ``end`` event)."""
    output = getattr(args, "output", None)
    if output is None or (output.exists() and not output.is_dir()):
        return None
    return ProgressLog(output)


def add_io_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="an audio file or a folder of audio files")
    parser.add_argument("--output", type=Path, required=True, help="output folder (created; not the input)")


def add_subtype_arg(parser: argparse.ArgumentParser, default: str = "PCM_16") -> None:
    parser.add_argument(
        "--subtype",
        choices=SUBTYPES,
        default=default,
        help=f"sample format of written WAVs (default {default})",
    )


def _guarded(process: Callable[[Path], dict | None], path: Path) -> tuple[bool, dict | str]:
    """(True, item fields) or (False, reason); runs in worker processes too, so errors travel as text."""
    try:
        return True, process(path) or {}
    except StageError:
        raise
    except ITEM_ERRORS as e:
        return False, _reason(path, e)


def _results(
    process: Callable[[Path], dict | None], files: list[Path], workers: int
) -> Iterator[tuple[Path, tuple[bool, dict | str]]]:
    if workers <= 1 or len(files) <= 1:
        for path in files:
            yield path, _guarded(process, path)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_guarded, process, path): path for path in files}
        for future in as_completed(futures):
            yield futures[future], future.result()


def run_files(
    stage: str,
    inputs: Inputs,
    output: Path,
    process: Callable[[Path], dict | None],
    extra_start: dict | None = None,
    workers: int = 1,
    finish: Callable[[], str] | None = None,
) -> int:
    """Run ``process`` on every input file with progress events; 0 if all succeeded, 1 if any was skipped.

    ``process`` returns optional fields for the ``item`` event and raises one of ITEM_ERRORS for a bad
    file. With ``workers > 1`` files are processed in that many processes (``process`` must pickle).
    ``finish`` runs after the last file and before the ``end`` event (to write a summary file); its text
    is added to the end message.
    """
    progress = ProgressLog(output)
    total = len(inputs.files)
    ignored = [p.name for p in inputs.ignored]
    progress.write("start", stage=stage, total=total, ignored=ignored, **(extra_start or {}))
    skipped = 0
    t0 = time.perf_counter()
    for done, (path, (ok, result)) in enumerate(_results(process, inputs.files, workers), 1):
        if not ok:
            skipped += 1
            print(f"skip {path}: {result}", file=sys.stderr, flush=True)
            progress.write("skip", name=str(path), reason=result)
            continue
        progress.write("item", done=done, total=total, name=str(path), **result)
    message = f"{total - skipped}/{total} files processed in {time.perf_counter() - t0:.1f} s"
    if skipped:
        message += f", {skipped} skipped"
    if finish is not None:
        message += f"; {finish()}"
    progress.write("end", ok=skipped == 0, message=message)
    print(message, flush=True)
    return 0 if skipped == 0 else 1


def _reason(path: Path, error: BaseException) -> str:
    """The error text without a leading copy of the path (AudioError messages start with it)."""
    if isinstance(error, AudioError):
        return error.reason
    text = str(error) or type(error).__name__
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
