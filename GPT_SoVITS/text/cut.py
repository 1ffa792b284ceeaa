"""Sentence cutting: the official cut0..cut5 methods and the pre-segmentation of the fast (API) pipeline.

Every cut method takes the user's text and returns it with ``\\n`` between the pieces to synthesise one
at a time, exactly as the official ``text_segmentation_method.py`` does (checked against the golden
``text_cut.json``). Where the official code crashes (cut1/cut2 on an empty string raise IndexError;
pre-segmentation of punctuation-only text raises ValueError for some methods), we return an empty
result instead; ``GPT_SoVITS.parity.cut`` lists those cases.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

# Characters after which a sentence may be cut (official ``splits``).
SPLITS: frozenset[str] = frozenset("，。？！,.?!~:：—…")
# Pieces made only of these characters are dropped by cut0..cut5 (nothing to speak).
_PUNCT_ONLY: frozenset[str] = frozenset("!?…,.- ")
# cut5 cuts after each of these ('.' between two digits excepted).
_CUT5_MARKS: frozenset[str] = frozenset(",.;?!、，。？！;：…")
# Punctuation whose repetitions are collapsed before the API pipeline (TextPreprocessor).
_CONSECUTIVE = "!?…,.-"

CUT_METHODS: tuple[str, ...] = ("cut0", "cut1", "cut2", "cut3", "cut4", "cut5")
MAX_SEGMENT_CHARS = 510  # BERT position limit (512 minus [CLS] and [SEP])
MIN_SEGMENT_CHARS = 5  # pieces shorter than this are merged with the next one


def _is_punct_only(text: str) -> bool:
    return set(text) <= _PUNCT_ONLY


def split_sentences(text: str) -> list[str]:
    """Split after every SPLITS character, keeping it; a final full stop is added when missing."""
    if not text:
        return []
    text = text.replace("……", "。").replace("——", "，")
    if text[-1] not in SPLITS:
        text += "。"
    pieces, start = [], 0
    for i, ch in enumerate(text):
        if ch in SPLITS:
            pieces.append(text[start : i + 1])
            start = i + 1
    return pieces


def cut0(text: str) -> str:
    """No cut (only punctuation becomes an empty line, as the official code does)."""
    return text if not _is_punct_only(text) else "\n"


def cut1(text: str) -> str:
    """One piece per four sentences."""
    text = text.strip("\n")
    sentences = split_sentences(text)
    # Group starts every 4 sentences; the official index arithmetic drops the last start, so the final
    # group runs to the end (4 to 7 sentences, or 8 when the count is a multiple of 4).
    starts = list(range(0, len(sentences), 4))[:-1]
    if starts:
        bounds = [*starts, len(sentences)]
        pieces = ["".join(sentences[a:b]) for a, b in itertools.pairwise(bounds)]
    else:
        pieces = [text]
    return "\n".join(p for p in pieces if not _is_punct_only(p))


def cut2(text: str, max_chars: int = 50) -> str:
    """Pieces of just over ``max_chars`` characters, cut at sentence ends."""
    text = text.strip("\n")
    sentences = split_sentences(text)
    if len(sentences) < 2:
        return text
    pieces, current = [], ""
    for sentence in sentences:
        current += sentence
        if len(current) > max_chars:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    if len(pieces) > 1 and len(pieces[-1]) < max_chars:  # a short tail joins the previous piece
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return "\n".join(p for p in pieces if not _is_punct_only(p))


def cut3(text: str) -> str:
    """Cut at the Chinese full stop 。 (which is removed)."""
    pieces = text.strip("\n").strip("。").split("。")
    return "\n".join(p for p in pieces if not _is_punct_only(p))


def cut4(text: str) -> str:
    """Cut at the English full stop (removed), except a '.' with a digit on either side."""
    pieces = re.split(r"(?<!\d)\.(?!\d)", text.strip("\n").strip("."))
    return "\n".join(p for p in pieces if not _is_punct_only(p))


def cut5(text: str) -> str:
    """Cut after every punctuation mark, except a '.' between two digits."""
    text = text.strip("\n")
    pieces, current = [], []
    for i, ch in enumerate(text):
        current.append(ch)
        decimal_point = (
            ch == "." and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        )
        if ch in _CUT5_MARKS and not decimal_point:
            pieces.append("".join(current))
            current = []
    if current:
        pieces.append("".join(current))
    return "\n".join(p for p in pieces if not set(p) <= _CUT5_MARKS)


_METHODS: dict[str, Callable[[str], str]] = {
    "cut0": cut0,
    "cut1": cut1,
    "cut2": cut2,
    "cut3": cut3,
    "cut4": cut4,
    "cut5": cut5,
}


def get_cut_method(method: str) -> Callable[[str], str]:
    try:
        return _METHODS[method]
    except KeyError as e:
        raise ValueError(f"unknown cut method {method!r}; known: {', '.join(CUT_METHODS)}") from e


def cut_text(text: str, method: str) -> list[str]:
    """The pieces ``method`` cuts ``text`` into (the official string split at newlines, empties dropped)."""
    return [p for p in get_cut_method(method)(text).split("\n") if p.strip()]


def merge_short_texts(texts: list[str], threshold: int = MIN_SEGMENT_CHARS) -> list[str]:
    """Join consecutive pieces until each has ``threshold`` characters; a short tail joins the last."""
    if len(texts) < 2:
        return list(texts)
    merged, current = [], ""
    for piece in texts:
        current += piece
        if len(current) >= threshold:
            merged.append(current)
            current = ""
    if current:
        if merged:
            merged[-1] += current
        else:
            merged.append(current)
    return merged


def split_big_text(text: str, max_chars: int = MAX_SEGMENT_CHARS) -> list[str]:
    """Split a text longer than ``max_chars`` at punctuation into pieces of at most ``max_chars``.

    A stretch with no punctuation longer than ``max_chars`` is cut every ``max_chars`` characters (the
    official code leaves it whole, and BERT then fails on it).
    """
    parts = re.split("([" + re.escape("".join(sorted(SPLITS))) + "])", text)
    result, current = [], ""
    for part in parts:
        if len(current + part) > max_chars:
            result.append(current)
            current = part
        else:
            current += part
    if current:
        result.append(current)
    return [p[i : i + max_chars] for p in result for i in range(0, max(len(p), 1), max_chars)]


def replace_consecutive_punctuation(text: str) -> str:
    """Collapse runs of !?…,.- to their first mark (the API pipeline does this before cutting)."""
    marks = re.escape(_CONSECUTIVE)
    return re.sub(f"([{marks}])([{marks}])+", r"\1", text)


def _first_sentence(text: str) -> str:
    return re.split("[" + re.escape("".join(sorted(SPLITS))) + "]", text)[0].strip()


def preprocess_segments(text: str, method: str, lang: str) -> list[str]:
    """The official API pre-segmentation (TextPreprocessor.pre_seg_text).

    A very short first sentence gets a full stop in front (so the model hears a pause first), the text is
    cut, blank and punctuation-only pieces are dropped, pieces under 5 characters are merged, every piece
    ends with a full stop and pieces over 510 characters are split. Text with nothing to speak gives [].
    """
    full_stop = "." if lang == "en" else "。"
    text = text.strip("\n")
    if not text:
        return []
    if text[0] not in SPLITS and len(_first_sentence(text)) < 4:
        text = full_stop + text
    text = get_cut_method(method)(text)
    while "\n\n" in text:
        text = text.replace("\n\n", "\n")
    pieces = [p for p in text.split("\n") if p not in ("", " ")]
    segments = []
    for piece in merge_short_texts(pieces, MIN_SEGMENT_CHARS):
        if not piece.strip() or not re.sub(r"\W+", "", piece):
            continue
        ended = piece if piece[-1] in SPLITS else piece + full_stop
        segments.extend(split_big_text(ended) if len(ended) > MAX_SEGMENT_CHARS else [ended])
    return segments


def webui_segments(text: str) -> list[str]:
    """The WebUI's pieces for cut5: cut, collapse blank lines, drop empties, merge pieces under 5 chars."""
    text = cut5(text)
    while "\n\n" in text:
        text = text.replace("\n\n", "\n")
    pieces = [p for p in text.split("\n") if p not in ("", " ")]
    return merge_short_texts(pieces, MIN_SEGMENT_CHARS)
