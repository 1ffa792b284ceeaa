"""Mandarin G2P: jieba words -> pypinyin (or G2PW) -> tone sandhi -> the models' initial/final symbols.

``g2p(norm_text, version)`` returns ``(phones, word2ph)`` with one entry of word2ph per character of
``norm_text`` (2 for a syllable, 1 for a punctuation mark), as the official ``chinese.py`` (v1) and
``chinese2.py`` (v2, adds erhua tones) do on their pypinyin path.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.text import zh_sandhi
from GPT_SoVITS.text.symbols import PUNCTUATION

log = logging.getLogger(__name__)

_MARKS = "".join(PUNCTUATION)
_SENTENCE = re.compile(rf"(?<=[{re.escape(_MARKS)}])\s*")
_PINYIN = re.compile(r"^([a-zü]+)([1-5])$")
_INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
)
# Syllables without a vowel letter that pypinyin may return; read as the nearest full syllable.
_ODD_SYLLABLES = {
    "n": ("EE", "en"),
    "ng": ("EE", "eng"),
    "m": ("m", "u"),
    "hm": ("h", "en"),
    "hng": ("h", "eng"),
}


class PinyinError(UserError):
    """A pinyin syllable the symbol table cannot express (e.g. a bad override like ``{行|hangx}``)."""


@dataclass(frozen=True)
class ZhResult:
    phones: list[str]
    word2ph: list[int]
    backend: str  # "pypinyin" or "g2pw": which one chose the polyphone readings


def syllable_symbols(initial: str, final: str) -> tuple[str, str]:
    """Model symbols of a toneless syllable given as pypinyin's strict initial + final.

    Zero-initial syllables get y/w or the AA/EE/OO initials, zhi/chi/shi/ri take the final ir and zi/ci/si
    the final i0, contracted spellings (ui, iu, un) are used, and ü is written v.
    """
    final = final.replace("ü", "v")
    if initial and not final:  # hm, hng: no vowel letter
        return _ODD_SYLLABLES.get(initial + "m", ("EE", "en"))
    if initial:
        final = {"uei": "ui", "iou": "iu", "uen": "un"}.get(final, final)
        if final == "i" and initial in ("zh", "ch", "sh", "r"):
            final = "ir"
        elif final == "i" and initial in ("z", "c", "s"):
            final = "i0"
        elif initial in ("j", "q", "x", "y") and final.startswith("u"):
            final = "v" + final[1:]
        return initial, final
    if final in _ODD_SYLLABLES:
        return _ODD_SYLLABLES[final]
    if final.startswith("v"):
        return "y", final
    if final.startswith("i"):
        rest = {"i": "i", "in": "in", "ing": "ing", "ian": "En", "ie": "E", "iou": "ou"}.get(final, final[1:])
        return "y", rest
    if final.startswith("u"):
        rest = {"u": "u", "uei": "ei", "uen": "en", "ueng": "eng"}.get(final, final[1:])
        return "w", rest
    if final[:1] == "a":
        return "AA", final
    if final[:1] in ("e", "ê"):
        return "EE", final.replace("ê", "E")
    if final[:1] == "o":
        return "OO", final
    raise PinyinError(f"pinyin final {final!r} cannot be mapped to a symbol")


def split_pinyin(syllable: str) -> tuple[str, str, str]:
    """'hang2' -> ('h', 'ang', '2'); 'yu2' -> ('', 'v', '2') in pypinyin's strict form."""
    m = _PINYIN.match(syllable.lower().replace("u:", "ü").replace("v", "ü"))
    if not m:
        raise PinyinError(f"{syllable!r} is not a pinyin syllable with a tone digit 1-5 (e.g. hang2)")
    body, tone = m.group(1), m.group(2)
    initial = next((i for i in _INITIALS if body.startswith(i) and len(body) > len(i)), "")
    final = body[len(initial) :]
    if not initial and body[0] in "yw":  # spelling initials of zero-initial syllables
        final = _unspell(body)
    elif (initial in ("j", "q", "x") and final.startswith("u")) or (initial in ("l", "n") and final == "ue"):
        final = "ü" + final[1:]
    return initial, final, tone


def _unspell(body: str) -> str:
    if body.startswith("yu"):
        return "ü" + body[2:]
    if body.startswith("y"):
        rest = body[1:]
        return rest if rest.startswith("i") else "i" + ("ou" if rest == "ou" else rest)
    rest = body[1:]
    if rest == "u":
        return "u"
    return "u" + {"ei": "ei", "en": "en"}.get(rest, rest)


def pinyin_phones(syllable: str) -> list[str]:
    """Two model symbols of one tone-numbered pinyin syllable ('hang2' -> ['h', 'ang2'])."""
    initial, final, tone = split_pinyin(syllable)
    sym_initial, sym_final = syllable_symbols(initial, final)
    from GPT_SoVITS.text.symbols import ZH_FINALS

    if sym_final not in ZH_FINALS:
        raise PinyinError(f"{syllable!r} gives final {sym_final!r}, which is not a Mandarin final")
    return [sym_initial, sym_final + tone]


@cache
def _jieba_posseg():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def _merge_bu(seg: list[list[str]]) -> list[list[str]]:
    merged, last = [], ""
    for word, pos in seg:
        joined = last + word if last == "不" else word
        if joined != "不":
            merged.append([joined, pos])
        last = joined
    if last == "不":
        merged.append(["不", "d"])
    return merged


def _merge_yi(seg: list[list[str]]) -> list[list[str]]:
    merged: list[list[str]] = []
    for i, (word, pos) in enumerate(seg):  # 听 一 听 -> 听一听
        if 0 < i < len(seg) - 1 and word == "一" and seg[i - 1][0] == seg[i + 1][0] and seg[i - 1][1] == "v":
            merged[i - 1][0] = merged[i - 1][0] + "一" + merged[i - 1][0]
        elif i >= 2 and seg[i - 1][0] == "一" and seg[i - 2][0] == word and pos == "v":
            continue
        else:
            merged.append([word, pos])
    result: list[list[str]] = []
    for word, pos in merged:  # a lone 一 joins the next word
        if result and result[-1][0] == "一":
            result[-1][0] += word
        else:
            result.append([word, pos])
    return result


def _merge_third_tones(seg: list[list[str]], whole_words: bool) -> list[list[str]]:
    finals = [zh_sandhi.finals_tone3(word) for word, _ in seg]
    merged: list[list[str]] = []
    joined = [False] * len(seg)
    for i, (word, pos) in enumerate(seg):
        if i > 0 and not joined[i - 1]:
            prev = seg[i - 1][0]
            if whole_words:
                both = zh_sandhi._all_third(list(finals[i - 1])) and zh_sandhi._all_third(list(finals[i]))
            else:
                both = finals[i - 1][-1][-1] == "3" and finals[i][0][-1] == "3"
            reduplicated = len(prev) == 2 and prev[0] == prev[1]
            if both and not reduplicated and len(prev) + len(word) <= 3:
                merged[-1][0] += word
                joined[i] = True
                continue
        merged.append([word, pos])
    return merged


def pre_merge(seg: list[tuple[str, str]]) -> list[list[str]]:
    """Join jieba words the sandhi rules must see together (不+X, V一V, third-tone chains, X儿)."""
    words = _merge_bu([[w, p] for w, p in seg])
    try:
        words = _merge_yi(words)
    except IndexError:  # the official merge fails on some double reduplications and then keeps the input
        log.debug("merge of 一 skipped for %s", words)
    out: list[list[str]] = []
    for word, pos in words:  # reduplications: 看 看 -> 看看
        if out and word == out[-1][0]:
            out[-1][0] += word
        else:
            out.append([word, pos])
    out = _merge_third_tones(out, whole_words=True)
    out = _merge_third_tones(out, whole_words=False)
    final: list[list[str]] = []
    for word, pos in out:
        if final and word == "儿" and final[-1][0] != "#":
            final[-1][0] += word
        else:
            final.append([word, pos])
    return final


def _word_pinyin(word: str) -> tuple[list[str], list[str]]:
    from pypinyin import Style, lazy_pinyin

    initials = lazy_pinyin(word, neutral_tone_with_five=True, style=Style.INITIALS)
    finals = lazy_pinyin(word, neutral_tone_with_five=True, style=Style.FINALS_TONE3)
    return initials, finals


def _g2pw_word_pinyin(pinyins: list[str]) -> tuple[list[str], list[str]]:
    from pypinyin.contrib.tone_convert import to_finals_tone3, to_initials

    initials, finals = [], []
    for p in pinyins:
        if p and p[0].isalpha():
            initials.append(to_initials(p))
            finals.append(to_finals_tone3(p, neutral_tone_with_five=True))
        else:  # punctuation passes through
            initials.append(p)
            finals.append(p)
    return initials, finals


def g2p(norm_text: str, version: str = "v2", forced: dict[int, str] | None = None, g2pw=None) -> ZhResult:
    """Phones of normalised Chinese text.

    ``forced`` maps character positions to pinyin (overrides). ``g2pw`` (a ``g2pw.G2PW``) chooses the
    readings of polyphonic characters from the whole sentence instead of pypinyin's word lists.
    """
    forced = forced or {}
    phones: list[str] = []
    word2ph: list[int] = []
    offset = 0
    for sentence in (s for s in _SENTENCE.split(norm_text) if s.strip()):
        start = norm_text.index(sentence, offset)
        offset = start + len(sentence)
        position = start
        hanzi = re.sub("[a-zA-Z]+", "", sentence)
        sentence_pinyin = g2pw.sentence_pinyin(hanzi) if g2pw is not None else None
        in_sentence = 0
        for word, pos in pre_merge(_jieba_posseg().lcut(hanzi)):
            in_sentence += len(word)
            if pos == "eng":
                continue
            if sentence_pinyin is not None:
                initials, finals = _g2pw_word_pinyin(sentence_pinyin[in_sentence - len(word) : in_sentence])
            else:
                initials, finals = _word_pinyin(word)
            finals = zh_sandhi.modify_tones(word, pos, finals)
            if version != "v1":
                finals = zh_sandhi.erhua(word, pos, finals)
            for k, (c, v) in enumerate(zip(initials, finals, strict=False)):
                if position + k in forced:
                    pair = pinyin_phones(forced[position + k])
                elif c == v:  # punctuation passes through
                    pair = [c]
                else:
                    sym_c, sym_v = syllable_symbols(c, v[:-1])
                    pair = [sym_c, sym_v + v[-1]]
                phones += pair
                word2ph.append(len(pair))
            position += len(word)
    return ZhResult(phones, word2ph, "g2pw" if g2pw is not None else "pypinyin")
