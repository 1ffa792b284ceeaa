"""The official experiment folder ``logs/<exp>``: the one reader/writer of its files.

Layout (names from ``GPT_SoVITS.paths``), every item keyed by the basename of its audio file (``a.wav``):
- ``2-name2text.txt``: ``name\\tphones (space separated)\\tword2ph (Python list or None)\\tnorm_text``;
- ``3-bert/<name>.pt``: float tensor [1024, n_phones], only for Chinese items;
- ``4-cnhubert/<name>.pt``: float tensor [1, 768, frames] (50 Hz SSL features);
- ``5-wav32k/<name>``: 16-bit 32 kHz wav;
- ``6-name2semantic.tsv``: header ``item_name\\tsemantic_audio`` then ``name\\tcodes (space separated)``.
Per-part files of ``--part i/n`` runs use the official names ``2-name2text-<i>.txt`` /
``6-name2semantic-<i>.tsv`` and are merged into the final files when every part is there.
``dropped.tsv`` (ours; ignored by the official code) lists items a stage dropped and why.
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from GPT_SoVITS import paths
from GPT_SoVITS.errors import UserError
from GPT_SoVITS.fileio import atomic_output

log = logging.getLogger(__name__)

SEMANTIC_HEADER = "item_name\tsemantic_audio"


class ExperimentError(UserError):
    """An experiment file is malformed or the experiment is inconsistent; the message names file and line."""


@dataclass(frozen=True)
class TextRecord:
    name: str
    phones: tuple[str, ...]
    word2ph: tuple[int, ...] | None  # None where the official frontend gives none (English)
    norm_text: str

    def to_line(self) -> str:
        w2p = "None" if self.word2ph is None else str(list(self.word2ph))
        return f"{self.name}\t{' '.join(self.phones)}\t{w2p}\t{self.norm_text}"


def item_name(audio_path: str | Path) -> str:
    """Official item key: the basename of the audio path (extension kept)."""
    return os.path.basename(str(audio_path).replace("\\", "/"))


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and an atomic rename."""
    with atomic_output(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    for i, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.strip():
            yield i, line


def parse_text_line(line: str, where: str) -> TextRecord:
    parts = line.split("\t")
    if len(parts) != 4:
        raise ExperimentError(f"{where}: expected 4 tab-separated fields, got {len(parts)}")
    name, phones, w2p, norm = parts
    word2ph: tuple[int, ...] | None = None
    if w2p.strip() != "None":
        try:
            values = ast.literal_eval(w2p.strip())
            word2ph = tuple(int(v) for v in values)
        except (ValueError, SyntaxError, TypeError) as e:
            raise ExperimentError(f"{where}: word2ph field {w2p!r} is not a list of integers") from e
    return TextRecord(name, tuple(phones.split(" ")) if phones else (), word2ph, norm)


def read_name2text(path: Path, strict: bool = True) -> dict[str, TextRecord]:
    """Records of a name2text file in file order; ``strict=False`` skips bad lines (official loaders)."""
    out: dict[str, TextRecord] = {}
    for line_no, line in _lines(path):
        try:
            rec = parse_text_line(line, f"{path}:{line_no}")
        except ExperimentError:
            if strict:
                raise
            log.warning("%s:%d: skipped malformed line", path, line_no)
            continue
        out[rec.name] = rec
    return out


def write_name2text(path: Path, records: Iterable[TextRecord]) -> None:
    lines = [r.to_line() for r in records]
    atomic_write_text(path, "\n".join(lines) + "\n" if lines else "")


def read_name2semantic(path: Path) -> dict[str, list[int]]:
    """Codes per item; the official header line is optional (part files have none)."""
    out: dict[str, list[int]] = {}
    for line_no, line in _lines(path):
        if line == SEMANTIC_HEADER:
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ExperimentError(f"{path}:{line_no}: expected 'name<TAB>codes', got {len(parts)} fields")
        try:
            out[parts[0]] = [int(c) for c in parts[1].split()]
        except ValueError as e:
            raise ExperimentError(f"{path}:{line_no}: semantic codes must be integers") from e
    return out


def semantic_line(name: str, codes: Iterable[int]) -> str:
    return f"{name}\t{' '.join(str(int(c)) for c in codes)}"


def write_name2semantic(path: Path, codes: dict[str, list[int]]) -> None:
    lines = [SEMANTIC_HEADER] + [semantic_line(k, v) for k, v in codes.items()]
    atomic_write_text(path, "\n".join(lines) + "\n")


class Experiment:
    """Paths and listings of one experiment folder (nothing is read until asked)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.name = self.root.name
        self.name2text = self.root / paths.NAME2TEXT
        self.bert_dir = self.root / paths.BERT_DIR
        self.hubert_dir = self.root / paths.HUBERT_DIR
        self.wav_dir = self.root / paths.WAV32K_DIR
        self.name2semantic = self.root / paths.NAME2SEMANTIC
        self.dropped_file = self.root / paths.DROPPED

    def text_part(self, i: int) -> Path:
        return self.root / f"{Path(paths.NAME2TEXT).stem}-{i}.txt"

    def semantic_part(self, i: int) -> Path:
        return self.root / f"{Path(paths.NAME2SEMANTIC).stem}-{i}.tsv"

    def bert_path(self, name: str) -> Path:
        return self.bert_dir / f"{name}.pt"

    def hubert_path(self, name: str) -> Path:
        return self.hubert_dir / f"{name}.pt"

    def wav_path(self, name: str) -> Path:
        return self.wav_dir / name

    @staticmethod
    def _names(folder: Path, suffix: str) -> set[str]:
        if not folder.is_dir():
            return set()
        n = len(suffix)
        return {
            p.name[: len(p.name) - n] if n else p.name
            for p in folder.iterdir()
            if p.name.endswith(suffix) and not p.name.startswith(".") and p.is_file()
        }

    def bert_names(self) -> set[str]:
        return self._names(self.bert_dir, ".pt")

    def hubert_names(self) -> set[str]:
        return self._names(self.hubert_dir, ".pt")

    def wav_names(self) -> set[str]:
        return self._names(self.wav_dir, "")

    def read_text(self) -> dict[str, TextRecord]:
        if not self.name2text.is_file():
            raise ExperimentError(f"{self.name2text}: missing; run python -m GPT_SoVITS.prepare.text first")
        return read_name2text(self.name2text)

    def read_semantic(self) -> dict[str, list[int]]:
        if not self.name2semantic.is_file():
            raise ExperimentError(
                f"{self.name2semantic}: missing; run python -m GPT_SoVITS.prepare.semantic first"
            )
        return read_name2semantic(self.name2semantic)

    def read_dropped(self) -> dict[str, tuple[str, str]]:
        """``name -> (stage, reason)`` of items a stage dropped on purpose."""
        out: dict[str, tuple[str, str]] = {}
        if self.dropped_file.is_file():
            for _, line in _lines(self.dropped_file):
                parts = [*line.split("\t", 2), "", ""]
                out[parts[0]] = (parts[1], parts[2])
        return out

    def add_dropped(self, name: str, stage: str, reason: str) -> None:
        """Append one dropped item (one short line: concurrent parts appending cannot interleave it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.dropped_file, "a", encoding="utf-8") as f:
            f.write(f"{name}\t{stage}\t{reason.replace(chr(10), ' ')}\n")
