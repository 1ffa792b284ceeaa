"""Japanese G2P: OpenJTalk full-context labels -> phonemes with prosody marks.

Each run of Japanese characters becomes phonemes plus the accent marks the official frontend adds for every
version: ``[`` pitch rise, ``]`` pitch fall, ``#`` accent-phrase border (``#`` has no symbol and becomes UNK,
and v1 has no ``[``/``]``, so there they become UNK too, exactly as officially). Other characters are kept as
marks, mapped to the model's punctuation.

Two engines give the labels:
* ``openjtalk``: the OpenJTalk 1.11 program with the NAIST dictionary 1.11 (Debian: open-jtalk,
  open-jtalk-mecab-naist-jdic). That is the C frontend and dictionary of the official environment's
  pyopenjtalk 0.4.1, so it reproduces the official readings; used when installed.
* ``pyopenjtalk-plus`` (the installed wheel): its own dictionary, its own number rules in the C frontend and
  Python post-processing (accent shifts, context readings). Plain words agree with the official readings,
  but numbers followed by counters (3本, 1匹, 100円, 14日, 20歳) and some accent phrases (行こう,
  住んでいます) do not. The differences come from the library (its dictionary and its C number rules; the
  same words differ with the NAIST dictionary loaded into it), not from the mark rules. Its post-processing
  stays on: without it (``use_vanilla``) fewer sentences match the official readings, not more.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.text.symbols import BASE_MARK_MAP, PUNCTUATION

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


class EngineError(UserError):
    """The Japanese G2P engine asked for is not installed."""


@dataclass(frozen=True)
class Engine:
    name: str  # "openjtalk-1.11+naist-jdic" or "pyopenjtalk-plus"
    binary: Path | None = None  # open_jtalk program (openjtalk engine only)
    dictionary: Path | None = None  # its compiled NAIST dictionary folder
    voice: Path | None = None  # any HTS voice: the program needs one, the labels do not depend on it


PLUS = Engine("pyopenjtalk-plus")
ENGINES = ("auto", "openjtalk", "pyopenjtalk-plus")
# Where Debian/Ubuntu (and a source install under /usr/local) put the NAIST dictionary and a voice.
_DICTIONARY_DIRS = ("var/lib/mecab/dic/open-jtalk/naist-jdic", "usr/share/open_jtalk/dic", "usr/local/dic")
_VOICES = (
    "usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice",
    "usr/share/hts-voice/mei-normal/mei_normal.htsvoice",
)


def _under_roots(binary: Path, relatives: tuple[str, ...]) -> Path | None:
    # a packaged install lives under /, an unpacked one under the folder holding usr/bin/open_jtalk
    roots = (Path("/"), binary.resolve().parents[2])
    return next((r / rel for r in roots for rel in relatives if (r / rel).exists()), None)


def _bundled_voice() -> Path | None:
    try:
        import pyopenjtalk
    except ImportError:
        return None
    voice = Path(pyopenjtalk.__file__).parent / "htsvoice" / "mei_normal.htsvoice"
    return voice if voice.exists() else None


@cache
def find_openjtalk() -> Engine | None:
    """The OpenJTalk 1.11 program, its NAIST dictionary and a voice, or None when one is missing."""
    found = shutil.which("open_jtalk")
    if found is None:
        return None
    binary = Path(found)
    dictionary = _under_roots(binary, _DICTIONARY_DIRS)
    voice = _under_roots(binary, _VOICES) or _bundled_voice()
    if dictionary is None or voice is None:
        return None
    return Engine("openjtalk-1.11+naist-jdic", binary, dictionary, voice)


def select_engine(choice: str = "auto") -> Engine:
    """The engine for a ``ReadingOptions.ja_engine`` value (see the module text)."""
    if choice not in ENGINES:
        known = ", ".join(ENGINES)
        raise EngineError(f"unknown Japanese engine {choice!r}; known: {known}", field="ja_engine")
    if choice == "pyopenjtalk-plus":
        return PLUS
    engine = find_openjtalk()
    if engine is not None:
        return engine
    if choice == "openjtalk":
        raise EngineError(
            "ja_engine 'openjtalk' needs the open_jtalk program and the NAIST dictionary "
            "(Debian/Ubuntu: apt install open-jtalk open-jtalk-mecab-naist-jdic)",
            field="ja_engine",
        )
    return PLUS


@lru_cache(maxsize=4096)
def _openjtalk_labels(text: str, engine: Engine) -> tuple[str, ...]:
    # -r 20: speak 20x faster; the labels do not depend on the speed and the unwanted audio takes ~no time
    command = [str(engine.binary), "-x", str(engine.dictionary), "-m", str(engine.voice), "-r", "20"]
    with tempfile.TemporaryDirectory() as folder:
        trace_path = Path(folder) / "trace.txt"
        command += ["-ot", str(trace_path), "-ow", os.devnull]
        try:  # the program reads UTF-8 whatever the locale says
            subprocess.run(command, input=text.encode("utf-8"), capture_output=True, timeout=60, check=True)
            trace = trace_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, subprocess.SubprocessError) as e:
            raise EngineError(f"open_jtalk failed on {text[:30]!r}: {e}", field="ja_engine") from e
    block = trace.partition("[Output label]")[2].partition("[Global parameter]")[0]
    return tuple(line.split(" ", 2)[2] for line in block.strip().splitlines())


def _plus_labels(text: str) -> list[str]:
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
    return pyopenjtalk.make_label(features)


def prosody_phones(text: str, engine: Engine = PLUS) -> list[str]:
    """Phonemes with accent marks from OpenJTalk's full-context labels (the espnet/r9y9 recipe).

    A label carries the current phoneme (p3), the mora position in its accent phrase counted forward
    (a2) and backward (a3), the distance to the accent nucleus (a1) and the phrase length in morae (f1).
    """
    labels = list(_openjtalk_labels(text, engine)) if engine.binary else _plus_labels(text)
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


# A run of the model's marks (!!, ……, ?!) is kept as its first mark, as the official text_normalize does.
_REPEATED_MARKS = re.compile(f"([{re.escape(''.join(PUNCTUATION))}])[{re.escape(''.join(PUNCTUATION))}]+")


def normalize(text: str) -> str:
    """Japanese text is read as written (OpenJTalk verbalises numbers and dates itself); repeated marks
    collapse to the first (officially against reference leakage), full-width ones (！！) stay."""
    return _REPEATED_MARKS.sub(r"\1", text)


def g2p(norm_text: str, engine: Engine = PLUS) -> list[str]:
    """Phones of Japanese text; marks between runs become the model's punctuation (spaces dropped).

    Each run of Japanese characters is read on its own, as officially: a mark (comma, space, bracket)
    ends the accent phrase, so no ``#`` border is added before it.
    """
    # officially Latin letters are lower-cased first (Ａ too). OpenJTalk 1.11 reads both cases alike, but
    # pyopenjtalk-plus reads upper-case ABC as エイビーシー: lower-casing gives the official エービーシー
    text = norm_text.replace("％", "パーセント").lower()
    runs = _NOT_JA.split(text)
    marks = _NOT_JA.findall(text)
    phones: list[str] = []
    for i, run in enumerate(runs):
        if _JA_RUN.match(run):
            phones += prosody_phones(run, engine)
        if i < len(marks) and marks[i] != " ":
            phones.append(_MARK_MAP.get(marks[i], marks[i]))
    return phones
