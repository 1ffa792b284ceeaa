"""The ``.list`` label format, ``audio_path|speaker|language|text`` — its only reader and writer.

Official files use upper-case language codes (``ZH``, ``EN``, ``JA``/``JP``, ``KO``, ``YUE``); any case is
accepted. Every line is kept on reading (with its errors), so an editor never drops what it cannot parse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.fileio import atomic_output, atomic_write_bytes

# Language modes of inference requests (official names).
LANGUAGES = ("zh", "en", "ja", "ko", "yue", "all_zh", "all_ja", "all_ko", "all_yue", "auto", "auto_yue")
# Languages a dataset line may carry, with the official aliases.
LIST_LANGUAGES = {"zh": "zh", "en": "en", "ja": "ja", "jp": "ja", "ko": "ko", "yue": "yue"}


class ListFileError(UserError):
    """A .list file that cannot be used; the message names the file and the line numbers."""


def normalize_lang(code: str) -> str:
    """Canonical lower-case language of a .list line (``JP`` -> ``ja``); ValueError if unknown."""
    key = code.strip().lower()
    if key not in LIST_LANGUAGES:
        known = ", ".join(sorted({c.upper() for c in LIST_LANGUAGES}))
        raise ValueError(f"unknown language code {code!r} (known: {known})")
    return LIST_LANGUAGES[key]


_BAD_TEXT = re.compile(r"[|\r\n\t]+")


def clean_text(text: str) -> str:
    """Make a transcript safe for one line of four fields: ``|`` and line breaks become spaces."""
    return re.sub(r" {2,}", " ", _BAD_TEXT.sub(" ", text)).strip()


@dataclass(frozen=True)
class ListEntry:
    path: str
    speaker: str
    lang: str
    text: str

    @property
    def language(self) -> str:
        return normalize_lang(self.lang)

    @property
    def name(self) -> str:
        """File name of the audio: the key of every experiment artifact."""
        return Path(self.path.replace("\\", "/")).name

    def to_line(self) -> str:
        return "|".join((self.path, self.speaker, self.lang, clean_text(self.text)))


@dataclass(frozen=True)
class ListLine:
    line_no: int  # 1-based
    raw: str
    entry: ListEntry | None
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def resolve_audio(entry_path: str, list_path: Path, audio_root: Path | None = None) -> Path:
    """Absolute paths as they are; relative ones under ``audio_root``, else under the list's folder."""
    p = Path(entry_path)
    if p.is_absolute():
        return p
    return (audio_root or list_path.parent) / p


def _parse_line(
    line_no: int, raw: str, list_path: Path, check_audio: bool, audio_root: Path | None
) -> ListLine:
    fields = raw.split("|")
    if len(fields) < 4:
        return ListLine(
            line_no, raw, None, (f"expected 4 fields path|speaker|lang|text, found {len(fields)}",)
        )
    # Extra '|' can only belong to the text: keep it there rather than dropping the line.
    path, speaker, lang, text = fields[0].strip(), fields[1].strip(), fields[2].strip(), "|".join(fields[3:])
    entry = ListEntry(path, speaker, lang, text.strip())
    errors = []
    if len(fields) > 4:
        errors.append("text contains '|'")
    if not path:
        errors.append("empty audio path")
    try:
        normalize_lang(lang)
    except ValueError as e:
        errors.append(str(e))
    if not entry.text:
        errors.append("empty text")
    if check_audio and path and not resolve_audio(path, list_path, audio_root).is_file():
        errors.append(f"audio file not found: {path}")
    return ListLine(line_no, raw, entry, tuple(errors))


def parse_list(
    path: str | os.PathLike, check_audio: bool = True, audio_root: Path | None = None
) -> list[ListLine]:
    """Every non-blank line of a .list file with its problems; nothing is dropped."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise ListFileError(f"{path}: file not found") from e
    except UnicodeDecodeError as e:
        raise ListFileError(f"{path}: not UTF-8 text ({e})") from e
    return [
        _parse_line(i, raw, path, check_audio, audio_root)
        for i, raw in enumerate(content.splitlines(), start=1)
        if raw.strip()
    ]


def read_entries(
    path: str | os.PathLike, check_audio: bool = True, audio_root: Path | None = None
) -> list[ListEntry]:
    """The entries of a valid .list file; ListFileError naming the file and every bad line otherwise."""
    lines = parse_list(path, check_audio, audio_root)
    bad = [ln for ln in lines if not ln.ok]
    if bad:
        shown = "; ".join(f"line {ln.line_no}: {', '.join(ln.errors)}" for ln in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise ListFileError(f"{path}: {len(bad)} bad line(s): {shown}{more}")
    if not lines:
        raise ListFileError(f"{path}: the list is empty")
    return [ln.entry for ln in lines if ln.entry is not None]


def write_list(path: str | os.PathLike, entries: Iterable[ListEntry | str], backup: bool = False) -> None:
    """Write atomically (temp file + rename). With ``backup`` the previous file is kept as ``<path>.bak``."""
    path = Path(path)
    lines = [e.to_line() if isinstance(e, ListEntry) else str(e).rstrip("\r\n") for e in entries]
    with atomic_output(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="\n")
        if backup and path.exists():
            bak = path.with_name(path.name + ".bak")
            atomic_write_bytes(bak, path.read_bytes())
