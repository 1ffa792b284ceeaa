"""Symbol ids plus BERT features of a text, as the official ``get_phones_and_bert``.

    phones_and_bert("Hello 世界", "auto", "v2", bert=None) -> (ids, bert [1024, N], norm_text)

The phonemes come from ``frontend``; Chinese runs get BERT features in one batched pass per call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from GPT_SoVITS.text.frontend import (
    BERT_DIM,
    FrontendError,
    FrontendResult,
    ReadingOptions,
    phones_to_ids,
    with_short_text_rule,
)

if TYPE_CHECKING:
    import torch

    from GPT_SoVITS.features.bert import BertFeatureExtractor


def phones_and_bert(
    text: str,
    mode: str,
    version: str = "v2",
    bert: BertFeatureExtractor | None = None,
    user_dict: dict[str, str] | None = None,
    options: ReadingOptions | None = None,
) -> tuple[list[int], torch.Tensor, str]:
    """(ids, bert [1024, N] float32, norm_text) as the official get_phones_and_bert.

    Chinese runs get BERT features when an extractor is given; every other run (and Chinese without an
    extractor) gets zeros, as the official code does for non-Chinese text.
    """
    result = phones_and_bert_many([text], mode, version, bert, user_dict, options)[0]
    if isinstance(result, FrontendError):
        raise result
    return result


def phones_and_bert_many(
    texts: list[str],
    mode: str,
    version: str = "v2",
    bert: BertFeatureExtractor | None = None,
    user_dict: dict[str, str] | None = None,
    options: ReadingOptions | None = None,
) -> list[tuple[list[int], torch.Tensor, str] | FrontendError]:
    """``phones_and_bert`` of each text, with one batched BERT pass for all of their Chinese runs.

    A text with nothing to speak gives its FrontendError in its place instead of raising.
    """
    import torch

    analysed: list[list[FrontendResult] | FrontendError] = []
    for text in texts:
        try:
            analysed.append(with_short_text_rule(text, mode, version, user_dict, options))
        except FrontendError as e:
            analysed.append(e)
    wanted = [
        (r.norm_text, r.word2ph)
        for runs in analysed
        if not isinstance(runs, FrontendError)
        for r in runs
        if r.language == "zh" and bert is not None and r.word2ph is not None
    ]
    features = iter(bert.features_many(wanted) if wanted and bert is not None else [])
    out: list[tuple[list[int], torch.Tensor, str] | FrontendError] = []
    for text, runs in zip(texts, analysed, strict=True):
        if isinstance(runs, FrontendError):
            out.append(runs)
            continue
        ids: list[int] = []
        parts: list[torch.Tensor] = []
        for r in runs:
            ids += phones_to_ids(r.phones, version)
            if r.language == "zh" and bert is not None and r.word2ph is not None:
                parts.append(next(features).float().cpu())
            else:
                parts.append(torch.zeros(BERT_DIM, len(r.phones), dtype=torch.float32))
        if not ids:
            out.append(
                FrontendError(f"nothing to speak in {text[:50]!r} (no letters or characters the models read)")
            )
            continue
        out.append((ids, torch.cat(parts, dim=1), "".join(r.norm_text for r in runs)))
    return out
