"""Optional G2PW polyphone model (ONNX) for Chinese, used when its files are under pretrained_models/.

Expected layout (the official G2PWModel_1.1 download, unzipped and renamed):

    pretrained_models/G2PWModel/g2pW.onnx
    pretrained_models/G2PWModel/POLYPHONIC_CHARS.txt        char<TAB>bopomofo, one reading per line
    pretrained_models/G2PWModel/MONOPHONIC_CHARS.txt        char<TAB>bopomofo
    pretrained_models/G2PWModel/bopomofo_to_pinyin_wo_tune_dict.json
    pretrained_models/G2PWModel/config.py                   (optional: use_mask, use_char_phoneme)
    pretrained_models/chinese-roberta-wwm-ext-large/vocab.txt   the tokenizer G2PW was trained with

For every polyphonic character of a sentence the model scores the readings of that character (BERT over
the whole sentence, the query character's position and id as extra inputs); monophonic characters take
their listed reading, everything else pypinyin's. Nothing is downloaded: without the files the Chinese
frontend uses pypinyin and records ``backend="pypinyin"``.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

REQUIRED_FILES = (
    "g2pW.onnx",
    "POLYPHONIC_CHARS.txt",
    "MONOPHONIC_CHARS.txt",
    "bopomofo_to_pinyin_wo_tune_dict.json",
)
MAX_TOKENS = 512
# Characters the official converter leaves to pypinyin although the model lists them (its own choice:
# the model is less reliable than the sandhi rules and pypinyin's phrases for these).
_LEFT_TO_PYPINYIN = frozenset("一不和咋嗲剖差攢倒難奔勁拗肖瘙誒泊听噢")


def find_g2pw(pretrained_dir: Path) -> tuple[Path, Path] | None:
    """(model folder, tokenizer folder) when every G2PW file is present, else None."""
    model_dir = pretrained_dir / "G2PWModel"
    tokenizer_dir = pretrained_dir / "chinese-roberta-wwm-ext-large"
    if all((model_dir / f).is_file() for f in REQUIRED_FILES) and (tokenizer_dir / "vocab.txt").is_file():
        return model_dir, tokenizer_dir
    return None


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"{path}:{line_no}: expected 'char<TAB>reading', got {line!r}")
        pairs.append((parts[0], parts[1].strip()))
    return pairs


def _read_flags(path: Path) -> dict[str, bool]:
    """``name = True/False`` lines of the model's config.py (read as text, never executed)."""
    flags = {"use_mask": True, "use_char_phoneme": False}
    if path.is_file():
        for m in re.finditer(
            r"^(use_mask|use_char_phoneme)\s*=\s*(True|False)", path.read_text("utf-8"), re.M
        ):
            flags[m.group(1)] = m.group(2) == "True"
    return flags


class G2PW:
    """Per-character pinyin (TONE3, neutral tone 5) of Chinese sentences with the G2PW model."""

    backend = "g2pw"

    def __init__(self, model_dir: Path, tokenizer_dir: Path, session=None) -> None:
        flags = _read_flags(model_dir / "config.py")
        poly = _read_pairs(model_dir / "POLYPHONIC_CHARS.txt")
        self.use_mask = flags["use_mask"]
        self.char_labels = flags["use_char_phoneme"]
        if self.char_labels:
            self.labels = sorted({f"{c} {p}" for c, p in poly})
        else:
            self.labels = sorted({p for _, p in poly})
        index = {label: i for i, label in enumerate(self.labels)}
        self.char2labels: dict[str, list[int]] = {}
        for c, p in poly:
            self.char2labels.setdefault(c, []).append(index[f"{c} {p}" if self.char_labels else p])
        self.chars = sorted(self.char2labels)
        self.char_index = {c: i for i, c in enumerate(self.chars)}
        self.monophonic = dict(_read_pairs(model_dir / "MONOPHONIC_CHARS.txt"))
        self.monophonic.pop("似", None)
        self.monophonic.pop("攢", None)
        bopomofo = model_dir / "bopomofo_to_pinyin_wo_tune_dict.json"
        self.bopomofo = json.loads(bopomofo.read_text(encoding="utf-8"))
        self.vocab = {
            tok: i
            for i, tok in enumerate((tokenizer_dir / "vocab.txt").read_text(encoding="utf-8").splitlines())
        }
        if session is None:
            import onnxruntime

            session = onnxruntime.InferenceSession(
                str(model_dir / "g2pW.onnx"), providers=["CPUExecutionProvider"]
            )
        self.session = session

    def to_pinyin(self, bopomofo: str) -> str | None:
        """'ㄏㄤˊ'-style reading with a tone digit ('ㄏㄤ2') -> 'hang2'."""
        tone = bopomofo[-1]
        syllable = self.bopomofo.get(bopomofo[:-1])
        return syllable + tone if syllable and tone in "12345" else None

    def _token_id(self, ch: str) -> int:
        return self.vocab.get(ch.lower(), self.vocab.get("[UNK]", 100))

    def _inputs(self, text: str, queries: list[int]) -> dict[str, np.ndarray]:
        ids = [self._token_id(ch) for ch in text]  # Chinese BERT vocabularies hold one token per character
        window = MAX_TOKENS - 2
        rows: dict[str, list] = {k: [] for k in ("input_ids", "phoneme_mask", "char_ids", "position_ids")}
        for q in queries:
            start = min(max(0, q - window // 2), max(0, len(ids) - window))
            piece = ids[start : start + window]
            rows["input_ids"].append([self.vocab.get("[CLS]", 101), *piece, self.vocab.get("[SEP]", 102)])
            allowed = self.char2labels[text[q]]
            mask = [1.0 if i in allowed else 0.0 for i in range(len(self.labels))] if self.use_mask else None
            rows["phoneme_mask"].append(mask or [1.0] * len(self.labels))
            rows["char_ids"].append(self.char_index[text[q]])
            rows["position_ids"].append(q - start + 1)  # +1: [CLS] comes first
        width = max(len(r) for r in rows["input_ids"])
        input_ids = np.zeros((len(queries), width), np.int64)
        attention = np.zeros((len(queries), width), np.int64)
        for i, r in enumerate(rows["input_ids"]):
            input_ids[i, : len(r)] = r
            attention[i, : len(r)] = 1
        return {
            "input_ids": input_ids,
            "token_type_ids": np.zeros_like(input_ids),
            "attention_mask": attention,
            "phoneme_mask": np.asarray(rows["phoneme_mask"], np.float32),
            "char_ids": np.asarray(rows["char_ids"], np.int64),
            "position_ids": np.asarray(rows["position_ids"], np.int64),
        }

    def sentence_pinyin(self, sentence: str) -> list[str]:
        """One TONE3 syllable per character (non-Chinese characters are returned unchanged)."""
        from pypinyin import Style, pinyin

        fallback = [p[0] for p in pinyin(sentence, neutral_tone_with_five=True, style=Style.TONE3)]
        if len(fallback) != len(sentence):  # pypinyin groups non-Chinese runs; go character by character
            fallback = [pinyin(ch, neutral_tone_with_five=True, style=Style.TONE3)[0][0] for ch in sentence]
        traditional = _to_traditional(sentence)  # the model was trained on traditional characters
        result = list(fallback)
        queries = []
        for i, ch in enumerate(traditional):
            if ch in self.char2labels and ch not in _LEFT_TO_PYPINYIN:
                queries.append(i)
            elif ch in self.monophonic:
                result[i] = self.to_pinyin(self.monophonic[ch]) or fallback[i]
        if queries:
            scores = self.session.run(None, self._inputs(traditional, queries))[0]
            for q, row in zip(queries, np.asarray(scores), strict=True):
                label = self.labels[int(np.argmax(row))]
                reading = label.split(" ")[-1]
                result[q] = self.to_pinyin(reading) or fallback[q]
        return result


@cache
def _s2tw():
    import opencc

    return opencc.OpenCC("s2tw")


def _to_traditional(text: str) -> str:
    converted = _s2tw().convert(text)
    return converted if len(converted) == len(text) else text


@cache
def load_g2pw(pretrained_dir: Path) -> G2PW | None:
    """The G2PW model under ``pretrained_dir`` (cached), or None when absent or unusable."""
    found = find_g2pw(pretrained_dir)
    if found is None:
        return None
    try:
        return G2PW(*found)
    except (OSError, ValueError, ImportError, RuntimeError) as e:
        log.warning("G2PW files under %s cannot be used (%s); using pypinyin", pretrained_dir, e)
        return None
