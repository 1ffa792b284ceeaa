"""Target text -> segments with phonemes and BERT features, and the split-bucket batching of segments.

The text frontend (GPT_SoVITS.text) is imported lazily: loading it pulls in jieba, pypinyin, g2p and
friends, which nothing needs until the first synthesis.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from GPT_SoVITS.inference.request import RequestError

log = logging.getLogger(__name__)

# Official TextPreprocessor: a prompt text gets a final full stop unless it ends in one of these.
SENTENCE_ENDS = set(",.;?!、，。？！;：…")


@dataclass(frozen=True)
class Phonemes:
    """One text after the frontend: phoneme ids and their BERT features [1024, N] (float32, CPU)."""

    text: str
    norm_text: str
    ids: tuple[int, ...]
    bert: torch.Tensor

    def __len__(self) -> int:
        return len(self.ids)


class Frontend:
    """The official get_phones_and_bert for symbol set ``version``; ``bert`` None gives zero features.

    ``frontend(text, lang)`` runs one text; ``frontend.many(texts, lang)`` runs several with one batched
    BERT pass (much faster on CPU than one pass per text). A text with nothing speakable (punctuation
    only...) gives an empty Phonemes, which callers skip.
    """

    def __init__(self, version: str, bert: object | None) -> None:
        self.version = version
        self.bert = bert

    def __call__(self, text: str, lang: str) -> Phonemes:
        return self.many([text], lang)[0]

    def many(self, texts: Sequence[str], lang: str) -> list[Phonemes]:
        from GPT_SoVITS.text.frontend import FrontendError
        from GPT_SoVITS.text.phones_bert import phones_and_bert_many

        out = []
        results = phones_and_bert_many(list(texts), lang, self.version, self.bert)
        for text, result in zip(texts, results, strict=True):
            if isinstance(result, FrontendError):
                out.append(Phonemes(text, "", (), torch.zeros(1024, 0)))
                continue
            ids, feats, norm_text = result
            feats = torch.as_tensor(feats).detach().float().cpu()
            if feats.dim() != 2 or feats.shape[1] != len(ids):
                raise RuntimeError(
                    f"frontend returned BERT features {list(feats.shape)} for {len(ids)} phonemes"
                )
            out.append(Phonemes(text, norm_text, tuple(int(i) for i in ids), feats))
        return out


def prompt_with_stop(prompt_text: str, prompt_lang: str) -> str:
    """The official prompt clean-up: strip newlines, end with a full stop ("." for English)."""
    text = prompt_text.strip("\n").strip()
    if text and text[-1] not in SENTENCE_ENDS:
        text += "." if prompt_lang == "en" else "。"
    return text


def split_text(text: str, method: str, lang: str) -> list[str]:
    """The official api pre-segmentation (cut method, merge short pieces, split long ones)."""
    from GPT_SoVITS.text.cut import preprocess_segments

    try:
        pieces = preprocess_segments(text, method, lang)
    except (ValueError, IndexError) as e:
        raise RequestError("text", f"nothing to synthesise after cutting with {method}: {e}") from e
    pieces = [p for p in pieces if p.strip()]
    if not pieces:
        raise RequestError("text", f"nothing to synthesise after cutting with {method}")
    return pieces


def make_batches(
    lengths: Sequence[int], batch_size: int, threshold: float, split_bucket: bool
) -> list[list[int]]:
    """Indices of segments per GPT batch.

    split_bucket (the official to_batch): sort by length, then take up to ``batch_size`` neighbours while
    the middle item's length is at least ``threshold`` times the batch mean (similar lengths waste little
    padding). Otherwise consecutive groups of ``batch_size`` in text order.
    """
    n = len(lengths)
    if not split_bucket:
        return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
    order = sorted(range(n), key=lambda i: lengths[i])  # stable, as the official sort
    sorted_len = np.array([lengths[i] for i in order], dtype=np.float32)
    batches: list[list[int]] = []
    pos = 0
    while pos < n:
        end = min(pos + batch_size, n)
        while end - pos > 1:
            part = sorted_len[pos:end]
            if part[(end - pos) // 2] / (part.mean() + 1e-8) >= threshold:
                break
            end -= 1
        batches.append(order[pos:end])
        pos = end
    return batches
