"""Logit filters and token sampling, in the official order and with the official quirks.

Order (official ``logits_to_probs``): repetition penalty (in place) -> top-p -> temperature -> top-k ->
softmax -> "exponential race" sampling (``argmax(probs / Exp(1))``, a multinomial draw without a sync).
All functions take logits of shape (B, V).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingOptions:
    """How a token is drawn from the logits, with the official defaults of ``infer_panel``.

    One value travels from the request (``TTSRequest.sampling``) through the decoding loops to
    :func:`sample`; the random generator travels beside it (it is state, not an option).
    """

    top_k: int = -100  # keep the k best tokens; <= 0 disables (the official default -100 would crash)
    top_p: float = 100.0  # nucleus threshold; >= 1 disables
    temperature: float = 1.0  # divides the logits (clamped at 1e-5) after top-p
    repetition_penalty: float = 1.35  # 1.0 disables; applied to every token already in y, prompt included


def apply_repetition_penalty_(logits: torch.Tensor, previous: torch.Tensor, penalty: float) -> torch.Tensor:
    """In place: divide positive / multiply negative logits of every token in ``previous`` (B, T).

    A token repeated in ``previous`` is penalised once. Modifying the caller's logits is deliberate: the
    official EOS test then sees the penalised values.
    """
    if penalty == 1.0 or previous.shape[-1] == 0:
        return logits
    index = previous.long()
    score = logits.gather(1, index)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return logits.scatter_(1, index, score)


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Remove tokens once the sorted cumulative probability exceeds ``top_p``; the best token always stays."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.softmax(-1).cumsum(-1)
    remove_sorted = cum > top_p
    remove_sorted[:, 0] = False
    remove = remove_sorted.scatter(1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep tokens whose logit is at least the k-th best (ties at the pivot all stay)."""
    if top_k <= 0:
        return logits
    pivot = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
    return torch.where(logits < pivot, float("-inf"), logits)


def logits_to_probs(
    logits: torch.Tensor, previous: torch.Tensor | None, options: SamplingOptions
) -> torch.Tensor:
    """(B, V) logits -> (B, V) probabilities; the penalty modifies ``logits`` in place."""
    if previous is not None:
        apply_repetition_penalty_(logits, previous, options.repetition_penalty)
    filtered = top_p_filter(logits, options.top_p)
    filtered = filtered / max(options.temperature, 1e-5)
    filtered = top_k_filter(filtered, options.top_k)
    return filtered.softmax(-1)


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row: argmax(probs / q) with q ~ Exp(1), i.e. a multinomial draw. (B, V) -> (B, 1)."""
    q = torch.empty_like(probs).exponential_(1, generator=generator)
    return (probs / q).argmax(dim=-1, keepdim=True)


def sample(
    logits: torch.Tensor,
    previous: torch.Tensor | None,
    options: SamplingOptions,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Official ``sample``: (B, V) logits (penalised in place) -> (B, 1) long token ids."""
    return draw(logits_to_probs(logits, previous, options), generator)
