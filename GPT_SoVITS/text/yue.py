"""Cantonese G2P: jyutping from ToJyutping's packaged dictionary, split as the official v2 models expect.

Each syllable becomes an onset symbol and a toned rhyme symbol, both prefixed with Y. The split is the
official one, quirks included (it matches the first entry of an ordered onset list, so a vowel-initial
syllable such as aa1 becomes Yaa + Ya1): the trained embeddings depend on it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.text import zh_normalize
from GPT_SoVITS.text.symbols import BASE_MARK_MAP, PUNCTUATION


def _words(text: str) -> list[str]:
    """Whitespace-separated items (keeps long word tables readable)."""
    return text.split()


log = logging.getLogger(__name__)

# Ordered: the first onset a syllable starts with wins.
_ONSETS = _words(
    "aa aai aak aap aat aau ai au ap at ak a p b e ts t dz d kw k gw g f h l m ng n s y w c z j ong "
    "on ou oi ok o uk ung "
)
_JYUTPING = re.compile(r"^([a-z]+)([1-6])$")
_MARKS = set(PUNCTUATION)
_PUNCT_MAP = {
    **BASE_MARK_MAP,
    "...": "…",
    "$": ".",
    "—": "-",
    "～": "-",
    "~": "-",
}
_QUOTES = '“”"‘’（）()《》【】[]「」'
_PUNCT_PATTERN = re.compile("|".join(re.escape(p) for p in _PUNCT_MAP))
_NOT_HAN_OR_MARK = re.compile(r"[^\u4e00-\u9fa5" + re.escape("".join(PUNCTUATION)) + r"]+")


class JyutpingError(UserError):
    """A jyutping syllable that cannot be split (e.g. a bad override like ``{行|hong}``)."""


@dataclass(frozen=True)
class YueResult:
    phones: list[str]
    word2ph: list[int]


def normalize(text: str) -> str:
    """Numbers and symbols read as in Mandarin normalisation, then Cantonese punctuation rules."""
    out = ""
    for sentence in zh_normalize.split_sentences(text):
        s = zh_normalize.normalize_sentence(sentence)
        s = _PUNCT_PATTERN.sub(lambda m: _PUNCT_MAP[m.group(0)], s)
        s = "".join("'" if ch in _QUOTES else ch for ch in s)
        out += _NOT_HAN_OR_MARK.sub("", s)
    return out


def syllable_phones(syllable: str) -> list[str]:
    """'gong2' -> ['Yg', 'Yong2'], 'aa1' -> ['Yaa', 'Ya1'], 'm4' -> ['Ym', 'Ym4']."""
    m = _JYUTPING.match(syllable)
    if not m:
        raise JyutpingError(f"{syllable!r} is not a jyutping syllable with a tone digit 1-6 (e.g. hong4)")
    body, tone = m.group(1), m.group(2)
    if body.startswith("nga"):
        return ["Yng", "Y" + body[2:] + tone]
    onset = next((o for o in _ONSETS if body.startswith(o)), None)
    if onset is None:
        raise JyutpingError(f"jyutping {syllable!r} starts with no known onset")
    rhyme = body[len(onset) :] or onset[-1]
    return ["Y" + onset, "Y" + rhyme + tone]


def g2p(norm_text: str, forced: dict[int, str] | None = None) -> YueResult:
    """Phones and per-character counts; ``forced`` maps character positions to jyutping (overrides)."""
    import ToJyutping

    forced = forced or {}
    phones: list[str] = []
    word2ph: list[int] = []
    position = 0
    for word, reading in ToJyutping.get_jyutping_list(norm_text):
        for k, ch in enumerate(word):
            syllables = (reading or "").split()
            if position + k in forced:
                pair = syllable_phones(forced[position + k])
            elif ch in _MARKS:
                pair = [ch]
            elif len(syllables) == len(word):
                pair = syllable_phones(syllables[k])
            else:  # no reading: keep the character aligned with its BERT feature, say nothing
                log.warning("no jyutping for %r; skipped", ch)
                pair = []
            phones += pair
            word2ph.append(len(pair))
        position += len(word)
    return YueResult(phones, word2ph)
