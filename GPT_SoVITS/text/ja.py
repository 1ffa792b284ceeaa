"""Japanese G2P: pyopenjtalk (pyopenjtalk-plus, whose dictionary ships in the wheel) with prosody marks.

Each run of Japanese characters becomes phonemes plus the accent marks the official v2 frontend uses:
``[`` pitch rise, ``]`` pitch fall, ``#`` accent-phrase border (``#`` has no symbol and becomes UNK, and
v1 has no ``[``/``]``, exactly as officially). Other characters are kept as marks, mapped to the model's
punctuation.
"""

from __future__ import annotations

import re

from GPT_SoVITS.text.symbols import BASE_MARK_MAP

# Characters read by OpenJTalk (kana, kanji, Latin letters, digits, full-width letters and digits 1-9).
_JA_CHARS = r"A-Za-z\d\u3005\u3040-\u30ff\u4e00-\u9fff\uff11-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\uff9d"
_JA_RUN = re.compile(f"[{_JA_CHARS}]")
_NOT_JA = re.compile(f"[^{_JA_CHARS}]")
_MARK_MAP = {
    **BASE_MARK_MAP,
    "...": "…",
}


# Accent nuclei the bundled dictionary gets wrong in context but the NAIST dictionary (used to train the
# official models) has right: (surface, part of speech) -> accent position.
_ACCENT_FIXES = {("いい", "形容詞"): 1}


def _feature(pattern: str, label: str) -> int:
    m = re.search(pattern, label)
    return int(m.group(1)) if m else -50  # -50: feature absent (pause or silence context)


def prosody_phones(text: str) -> list[str]:
    """Phonemes with accent marks from OpenJTalk's full-context labels (the espnet/r9y9 recipe).

    A label carries the current phoneme (p3), the mora position in its accent phrase counted forward
    (a2) and backward (a3), the distance to the accent nucleus (a1) and the phrase length in morae (f1).
    """
    import pyopenjtalk

    features = pyopenjtalk.run_frontend(text)
    for i, f in enumerate(features):
        pos = f["pos"]
        # the bundled dictionary parses adjectival いい before a noun as the verb 言い (accent 0)
        if (
            f["string"] == "いい"
            and pos == "動詞"
            and i + 1 < len(features)
            and features[i + 1]["pos"] == "名詞"
        ):
            pos = "形容詞"
        fixed = _ACCENT_FIXES.get((f["string"], pos))
        if fixed is not None and f["chain_flag"] != 1:  # only as the head of its accent phrase
            f["acc"] = fixed
    labels = pyopenjtalk.make_label(features)
    phones: list[str] = []
    for n, label in enumerate(labels):
        p3 = re.search(r"-(.*?)\+", label).group(1)
        if p3 in ("A", "E", "I", "O", "U"):  # devoiced vowels are read as plain vowels
            p3 = p3.lower()
        if p3 == "sil":
            continue  # sentence borders: the official code drops them again
        if p3 == "pau":
            phones.append("_")
            continue
        phones.append(p3)
        a1 = _feature(r"/A:([0-9\-]+)\+", label)
        a2 = _feature(r"\+(\d+)\+", label)
        a3 = _feature(r"\+(\d+)/", label)
        f1 = _feature(r"/F:(\d+)_", label)
        a2_next = _feature(r"\+(\d+)\+", labels[n + 1]) if n + 1 < len(labels) else -50
        if a3 == 1 and a2_next == 1 and p3 in "aeiouAEIOUNcl":
            phones.append("#")
        elif a1 == 0 and a2_next == a2 + 1 and a2 != f1:
            phones.append("]")
        elif a2 == 1 and a2_next == 2:
            phones.append("[")
    return phones


def normalize(text: str) -> str:
    """Japanese text is read as written (OpenJTalk verbalises numbers and dates itself)."""
    return text


def g2p(norm_text: str) -> list[str]:
    """Phones of Japanese text; marks between runs become the model's punctuation (spaces dropped)."""
    text = norm_text.replace("％", "パーセント")
    runs = _NOT_JA.split(text)
    marks = _NOT_JA.findall(text)
    phones: list[str] = []
    for i, run in enumerate(runs):
        if _JA_RUN.match(run):
            phones += prosody_phones(run)
        if i < len(marks) and marks[i] != " ":
            phones.append(_MARK_MAP.get(marks[i], marks[i]))
    return phones
