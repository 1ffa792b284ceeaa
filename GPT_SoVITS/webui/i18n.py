"""User-facing strings: catalogues in ``locales/<lang>.json``, keyed by short ids; en_US is the fallback."""

from __future__ import annotations

import json
import locale
import logging
import os
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("zh_CN", "en_US", "ja_JP")
FALLBACK = "en_US"


@cache
def load_catalog(lang: str) -> dict[str, str]:
    """The catalogue of ``lang`` (a copy is not made: treat it as read-only)."""
    path = LOCALES_DIR / f"{lang}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read the {lang} catalogue ({e})") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a catalogue is one JSON object of id -> text")
    return data


def resolve_language(lang: str = "auto") -> str:
    """``auto`` picks the system language (LANG / locale) when we have it, else en_US."""
    if lang in LANGUAGES:
        return lang
    if lang != "auto":
        raise ValueError(f"unknown UI language {lang!r}; choose one of {', '.join(LANGUAGES)} or auto")
    name = os.environ.get("LC_ALL") or os.environ.get("LANG") or (locale.getlocale()[0] or "")
    prefix = name.split(".")[0].replace("-", "_")
    for candidate in LANGUAGES:
        if prefix == candidate or prefix.split("_")[0] == candidate.split("_")[0]:
            return candidate
    return FALLBACK


class I18n:
    """``t("key", n=3)`` -> the text in the chosen language, formatted with the keyword fields."""

    def __init__(self, lang: str = "auto") -> None:
        self.lang = resolve_language(lang)
        self._catalog = load_catalog(self.lang)
        self._fallback = load_catalog(FALLBACK)

    def has(self, key: str) -> bool:
        return key in self._catalog or key in self._fallback

    def __call__(self, key: str, **fields: object) -> str:
        text = self._catalog.get(key) or self._fallback.get(key)
        if text is None:
            log.warning("no text for i18n key %r", key)
            text = key
        return text.format(**fields) if fields else text
