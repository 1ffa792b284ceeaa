"""The label editor's pure operations on a ``.list`` document (no UI here).

A :class:`Document` is one open ``.list`` file: its rows, an undo and a redo stack, and whether it has unsaved
changes. Every operation returns a new document and never touches the previous one, so a UI can keep a
document per browser session (``gr.State``) and undo is a stack of earlier row tuples. Audio files are never
deleted: merge and split write new wav files beside the originals, delete only drops the row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.fileio import atomic_output
from GPT_SoVITS.listfile import ListEntry, ListLine, clean_text, parse_list, resolve_audio, write_list

log = logging.getLogger(__name__)

# Languages whose words are not separated by spaces: merged texts are joined without one.
_NO_SPACE_LANGS = {"zh", "ja", "yue", "all_zh", "all_ja", "all_yue"}
_MAX_HISTORY = 200  # undo steps kept per document


class EditorError(UserError):
    """An operation that cannot be done; the message is shown to the user as is."""


@dataclass(frozen=True)
class Row:
    """One line of the file: its entry (None when the fields cannot be parsed), raw text and problems.

    ``loaded`` rows are unchanged since the file was read and are written back verbatim.
    """

    entry: ListEntry | None
    raw: str
    errors: tuple[str, ...] = ()
    loaded: bool = False

    @property
    def valid(self) -> bool:
        return self.entry is not None and not self.errors

    @property
    def text(self) -> str:
        return self.entry.text if self.entry is not None else self.raw

    def to_line(self) -> str:
        return self.entry.to_line() if self.entry is not None else self.raw


@dataclass(frozen=True)
class Document:
    path: Path
    rows: tuple[Row, ...]
    undo_stack: tuple[tuple[Row, ...], ...] = ()
    redo_stack: tuple[tuple[Row, ...], ...] = ()
    dirty: bool = False
    audio_root: Path | None = field(default=None)

    def __len__(self) -> int:
        return len(self.rows)


def _row_from_line(line: ListLine) -> Row:
    # A line whose fields parse but whose audio is missing stays editable; it is flagged, not dropped.
    return Row(entry=line.entry, raw=line.raw, errors=tuple(line.errors), loaded=True)


def _edited(row: Row, text: str) -> Row:
    assert row.entry is not None
    errors = tuple(e for e in row.errors if e != "empty text") + (() if text else ("empty text",))
    return Row(entry=dataclasses.replace(row.entry, text=text), raw=row.raw, errors=errors)


def load(path: str | Path, audio_root: Path | None = None) -> Document:
    """Open ``path``; every line is kept, lines that fail validation carry their errors."""
    path = Path(path)
    if not path.is_file():
        raise EditorError(f"{path}: no such .list file")
    lines = parse_list(path, check_audio=True, audio_root=audio_root)
    rows = tuple(_row_from_line(line) for line in lines if line.raw.strip() or line.entry is not None)
    return Document(path=path, rows=rows, audio_root=audio_root)


def _commit(doc: Document, rows: tuple[Row, ...]) -> Document:
    """A new document with ``rows``, the previous rows pushed on the undo stack."""
    undo = (*doc.undo_stack, doc.rows)[-_MAX_HISTORY:]
    return dataclasses.replace(doc, rows=rows, undo_stack=undo, redo_stack=(), dirty=True)


def _check_index(doc: Document, index: int) -> None:
    if not 0 <= index < len(doc.rows):
        raise EditorError(f"row {index} does not exist (the file has {len(doc.rows)} rows)")


def _audio_path(doc: Document, entry: ListEntry) -> Path:
    return resolve_audio(entry.path, doc.path, doc.audio_root)


def resolve_audio_path(doc: Document, index: int) -> Path | None:
    """Where row ``index``'s audio is (None for a row that does not parse)."""
    _check_index(doc, index)
    entry = doc.rows[index].entry
    return None if entry is None else _audio_path(doc, entry)


# --- viewing -----------------------------------------------------------------------------------------------


def page_count(doc: Document, page_size: int) -> int:
    return max(1, math.ceil(len(doc.rows) / max(1, page_size)))


def page(doc: Document, page_index: int, page_size: int) -> list[tuple[int, Row]]:
    """Rows of page ``page_index`` (0-based, clamped to the last page) with their row indices."""
    page_size = max(1, page_size)
    page_index = min(max(0, page_index), page_count(doc, page_size) - 1)
    start = page_index * page_size
    return list(enumerate(doc.rows))[start : start + page_size]


def page_of(index: int, page_size: int) -> int:
    """The page holding row ``index``."""
    return max(0, index) // max(1, page_size)


def search(doc: Document, query: str) -> list[int]:
    """Indices of rows whose text or audio path contains ``query`` (case-insensitive)."""
    q = query.strip().casefold()
    if not q:
        return []
    found = []
    for i, row in enumerate(doc.rows):
        hay = row.to_line().casefold()
        if q in hay:
            found.append(i)
    return found


# --- editing -----------------------------------------------------------------------------------------------


def edit_texts(doc: Document, texts: dict[int, str]) -> Document:
    """Apply several text edits as one undo step (a page of text boxes saved at once); rows that cannot
    be parsed are read-only and left as they are; unchanged texts return ``doc`` itself (no undo step)."""
    rows = list(doc.rows)
    changed = False
    for index, text in texts.items():
        _check_index(doc, index)
        row = rows[index]
        if row.entry is None:
            continue
        cleaned = clean_text(text)
        if cleaned != row.entry.text:
            rows[index] = _edited(row, cleaned)
            changed = True
    return _commit(doc, tuple(rows)) if changed else doc


def delete(doc: Document, indices: list[int]) -> Document:
    """Drop the rows ``indices`` from the list; their audio files stay on disk."""
    chosen = set(indices)
    if not chosen:
        raise EditorError("select at least one row to delete")
    for i in chosen:
        _check_index(doc, i)
    return _commit(doc, tuple(r for i, r in enumerate(doc.rows) if i not in chosen))


def _read(path: Path) -> tuple[np.ndarray, int]:
    """Audio as float32 [T, C] and its sample rate; errors name the file."""
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise EditorError(f"{path}: cannot read audio ({e})") from e
    return wav, int(sr)


def _write_new(path_hint: Path, wav: np.ndarray, sr: int) -> Path:
    """Write ``wav`` [T, C] next to ``path_hint`` under a name that does not exist yet (atomic)."""
    path = path_hint
    n = 1
    while path.exists():
        path = path_hint.with_name(f"{path_hint.stem}_{n}{path_hint.suffix}")
        n += 1
    with atomic_output(path) as tmp:
        sf.write(tmp, wav, sr, subtype="PCM_16", format="WAV")
    return path


def _to_rate(wav: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    if sr_from == sr_to:
        return wav
    from GPT_SoVITS.audio import resample

    # resample works on [T] (or [C, T]); our arrays are [T, C]
    return np.stack(
        [resample(np.ascontiguousarray(wav[:, c]), sr_from, sr_to) for c in range(wav.shape[1])], 1
    )


def merge(doc: Document, indices: list[int], silence_s: float = 0.5) -> Document:
    """Join the selected rows (in file order) into one, with ``silence_s`` seconds of silence between clips.

    A new wav is written beside the first clip (its sample rate and channel count); the originals stay.
    """
    chosen = sorted(set(indices))
    if len(chosen) < 2:
        raise EditorError("select at least two rows to merge")
    if silence_s < 0:
        raise EditorError(f"silence interval must be >= 0 s, got {silence_s}")
    for i in chosen:
        _check_index(doc, i)
        if doc.rows[i].entry is None:
            raise EditorError(f"row {i} cannot be parsed and cannot be merged")
    entries = [doc.rows[i].entry for i in chosen]
    assert all(e is not None for e in entries)
    first = entries[0]
    base, sr = _read(_audio_path(doc, first))
    channels = base.shape[1]
    parts = [base]
    gap = np.zeros((round(silence_s * sr), channels), dtype=np.float32)
    for e in entries[1:]:
        wav, wsr = _read(_audio_path(doc, e))
        wav = _to_rate(wav, wsr, sr)
        wav = wav.mean(1, keepdims=True) if wav.shape[1] != channels else wav
        wav = np.repeat(wav, channels, 1) if wav.shape[1] != channels else wav
        parts += [gap, wav]
    first_path = _audio_path(doc, first)
    digest = hashlib.sha1("|".join(e.path for e in entries).encode()).hexdigest()[:8]
    out = _write_new(
        first_path.with_name(f"{first_path.stem}_merged_{digest}.wav"), np.concatenate(parts), sr
    )
    joiner = "" if first.lang.lower() in _NO_SPACE_LANGS else " "
    text = joiner.join(e.text.strip() for e in entries if e.text.strip())
    merged = ListEntry(path=str(out), speaker=first.speaker, lang=first.lang, text=text)
    row = Row(entry=merged, raw=merged.to_line())
    rows = list(doc.rows)
    rows[chosen[0]] = row
    keep = set(chosen[1:])
    return _commit(doc, tuple(r for i, r in enumerate(rows) if i not in keep))


def audio_duration(doc: Document, index: int) -> float:
    """Length of row ``index``'s audio in seconds."""
    _check_index(doc, index)
    entry = doc.rows[index].entry
    if entry is None:
        raise EditorError(f"row {index} cannot be parsed")
    path = _audio_path(doc, entry)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise EditorError(f"{path}: cannot read audio ({e})") from e
    return info.frames / info.samplerate


def split(doc: Document, index: int, at_s: float, cursor: int | None = None) -> Document:
    """Cut row ``index``'s audio at ``at_s`` seconds into two new wavs and two rows.

    The text is split at character position ``cursor``, or duplicated into both rows when ``cursor`` is None.
    """
    _check_index(doc, index)
    entry = doc.rows[index].entry
    if entry is None:
        raise EditorError(f"row {index} cannot be parsed and cannot be split")
    path = _audio_path(doc, entry)
    wav, sr = _read(path)
    duration = len(wav) / sr
    cut = round(at_s * sr)
    if not 0 < cut < len(wav):
        raise EditorError(f"split point {at_s:.3f} s is outside the clip (0 .. {duration:.3f} s)")
    if cursor is None:
        texts = (entry.text, entry.text)
    else:
        if not 0 <= cursor <= len(entry.text):
            raise EditorError(f"text cursor {cursor} is outside the text (0 .. {len(entry.text)})")
        texts = (entry.text[:cursor].strip(), entry.text[cursor:].strip())
    new_rows = []
    for part, (wav_part, text) in enumerate(zip((wav[:cut], wav[cut:]), texts, strict=True)):
        out = _write_new(path.with_name(f"{path.stem}_split{part}.wav"), wav_part, sr)
        e = dataclasses.replace(entry, path=str(out), text=text)
        new_rows.append(Row(entry=e, raw=e.to_line()))
    return _commit(doc, (*doc.rows[:index], *new_rows, *doc.rows[index + 1 :]))


# --- history and saving ------------------------------------------------------------------------------------


def undo(doc: Document) -> Document:
    if not doc.undo_stack:
        raise EditorError("nothing to undo")
    return dataclasses.replace(
        doc,
        rows=doc.undo_stack[-1],
        undo_stack=doc.undo_stack[:-1],
        redo_stack=(*doc.redo_stack, doc.rows),
        dirty=True,
    )


def redo(doc: Document) -> Document:
    if not doc.redo_stack:
        raise EditorError("nothing to redo")
    return dataclasses.replace(
        doc,
        rows=doc.redo_stack[-1],
        redo_stack=doc.redo_stack[:-1],
        undo_stack=(*doc.undo_stack, doc.rows),
        dirty=True,
    )


def save(doc: Document) -> Document:
    """Write the rows back to ``doc.path`` atomically, the previous file kept as ``<path>.bak``.

    Invalid rows are written back verbatim, so saving never loses a line the editor could not parse.
    """
    items: list[ListEntry | str] = [r.raw if r.loaded or r.entry is None else r.entry for r in doc.rows]
    write_list(doc.path, items, backup=True)
    return dataclasses.replace(doc, dirty=False)
