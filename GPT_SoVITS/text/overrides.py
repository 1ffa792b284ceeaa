"""Pronunciation overrides: inline ``{word|reading}`` marks and a per-project user dictionary.

Readings are written in the language's own notation: pinyin with tone digits for Chinese (``{行|hang2}``,
one syllable per character), ARPAbet for English (``{read|R EH1 D}``), kana for Japanese, Hangul for
Korean, jyutping for Cantonese. A malformed mark is read as plain text: an unclosed ``{word|reading`` or
an empty ``{|reading}`` keeps only its word (the reading is never read aloud), stray braces are dropped.

User dictionary file: UTF-8, one ``word|reading`` (or ``word<TAB>reading``) per line, ``#`` comments.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from GPT_SoVITS.errors import UserError

log = logging.getLogger(__name__)

_INLINE = re.compile(r"\{([^{}|\n]+)\|([^{}|\n]+)\}")
# "{word|reading" without its closing brace (up to the next brace, newline or end), or "{|...}".
_BROKEN = re.compile(r"\{([^{}|\n]*)\|[^{}\n]*\}?")


@dataclass(frozen=True)
class Override:
    word: str  # the written form, kept in the normalised text
    reading: str  # pinyin / ARPAbet / kana / Hangul / jyutping


Token = str | Override


class UserDictError(UserError):
    """A malformed user dictionary line (the message names the file and line)."""


def _plain(text: str) -> str:
    """Text outside well-formed overrides: broken marks keep their word, stray braces go."""
    if "{" not in text and "}" not in text:
        return text
    log.warning("malformed pronunciation override in %r: read as plain text", text[:60])
    return _BROKEN.sub(lambda m: m.group(1), text).replace("{", "").replace("}", "")


def parse_overrides(text: str) -> list[Token]:
    """Plain text pieces and Override marks, in order."""
    tokens: list[Token] = []
    pos = 0
    for m in _INLINE.finditer(text):
        word, reading = m.group(1).strip(), m.group(2).strip()
        if not word or not reading:
            continue
        if m.start() > pos:
            tokens.append(_plain(text[pos : m.start()]))
        tokens.append(Override(word, reading))
        pos = m.end()
    if pos < len(text):
        tokens.append(_plain(text[pos:]))
    return [t for t in tokens if t != ""]


def load_user_dict(path: Path | str) -> dict[str, str]:
    """word -> reading from a user dictionary file."""
    path = Path(path)
    entries: dict[str, str] = {}
    for line_no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split("|", 1) if "|" in line else line.split("\t", 1)
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise UserDictError(f"{path}:{line_no}: expected 'word|reading', got {raw!r}")
        entries[parts[0].strip()] = parts[1].strip()
    return entries


def apply_user_dict(tokens: list[Token], user_dict: dict[str, str] | None) -> list[Token]:
    """Turn dictionary words found in plain pieces into overrides (longest word first; Latin words whole)."""
    if not user_dict:
        return tokens
    words = sorted(user_dict, key=len, reverse=True)
    alternatives = [rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w) for w in words]
    pattern = re.compile("|".join(alternatives), re.IGNORECASE)
    lookup = {w.lower(): r for w, r in user_dict.items()}
    out: list[Token] = []
    for token in tokens:
        if isinstance(token, Override):
            out.append(token)
            continue
        pos = 0
        for m in pattern.finditer(token):
            if m.start() > pos:
                out.append(token[pos : m.start()])
            out.append(Override(m.group(0), lookup[m.group(0).lower()]))
            pos = m.end()
        if pos < len(token):
            out.append(token[pos:])
    return out
