"""Logit filters on hand-made logits: penalty, top-k, top-p, temperature, their order, the draw."""

from __future__ import annotations

import math

import torch

from GPT_SoVITS.models.gpt.sampling import (
    SamplingOptions,
    apply_repetition_penalty_,
    draw,
    logits_to_probs,
    top_k_filter,
    top_p_filter,
)

NEG = float("-inf")


def test_repetition_penalty_is_in_place_and_sign_aware() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    out = apply_repetition_penalty_(logits, torch.tensor([[0, 1, 1]]), 2.0)
    assert out is logits  # the caller's tensor changes (the official EOS test relies on it)
    assert logits.tolist() == [[1.0, -2.0, 0.5, 3.0]]  # a repeated token is penalised once
    same = torch.tensor([[2.0, -1.0]])
    apply_repetition_penalty_(same, torch.tensor([[0]]), 1.0)
    assert same.tolist() == [[2.0, -1.0]]
    apply_repetition_penalty_(same, torch.zeros(1, 0, dtype=torch.long), 3.0)  # empty history
    assert same.tolist() == [[2.0, -1.0]]


def test_top_k_keeps_the_k_best_and_ties() -> None:
    logits = torch.tensor([[1.0, 4.0, 3.0, 3.0, 0.0]])
    assert top_k_filter(logits, 2).tolist() == [[NEG, 4.0, 3.0, 3.0, NEG]]  # both 3.0 tie with the pivot
    assert top_k_filter(logits, 1).tolist() == [[NEG, 4.0, NEG, NEG, NEG]]
    assert torch.equal(top_k_filter(logits, -100), logits)  # disabled
    assert torch.equal(top_k_filter(logits, 99), logits)


def test_top_p_keeps_the_smallest_prefix_reaching_p() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    # cumulative 0.5, 0.8, 0.95, 1.0: "> 0.7" removes from the 2nd sorted token on, the 1st always stays
    assert torch.isinf(top_p_filter(logits, 0.7)[0, 1:]).all()
    kept = top_p_filter(logits, 0.9)
    assert torch.isfinite(kept[0, :2]).all() and torch.isinf(kept[0, 2:]).all()
    assert torch.isfinite(top_p_filter(logits, 0.1)[0, 0])
    assert torch.equal(top_p_filter(logits, 1.0), logits)
    shuffled = logits[:, [2, 0, 3, 1]]  # works on unsorted vocabularies
    assert torch.isinf(top_p_filter(shuffled, 0.7)).tolist() == [[True, False, True, True]]


def test_temperature_scales_before_softmax() -> None:
    logits = torch.tensor([[1.0, 2.0, 0.0]])
    probs = logits_to_probs(logits.clone(), None, SamplingOptions(temperature=0.5, repetition_penalty=1.0))
    assert torch.allclose(probs, (logits / 0.5).softmax(-1))
    cold = logits_to_probs(logits.clone(), None, SamplingOptions(temperature=0.0))  # clamped to 1e-5
    assert cold.tolist() == [[0.0, 1.0, 0.0]]


def test_official_order_penalty_then_top_p_then_top_k() -> None:
    # token 0 leads until penalised; after the penalty token 1 leads and top-k 1 keeps only it
    logits = torch.tensor([[3.0, 2.0, -5.0]])
    opts = SamplingOptions(top_k=1, top_p=1.0, temperature=1.0, repetition_penalty=2.0)
    probs = logits_to_probs(logits, torch.tensor([[0]]), opts)
    assert probs.tolist() == [[0.0, 1.0, 0.0]]
    assert logits.tolist() == [[1.5, 2.0, -5.0]]
    # top-p runs before temperature: at T=10 the flattened distribution would keep more tokens
    sharp = torch.tensor([[math.log(0.6), math.log(0.3), math.log(0.1)]])
    probs = logits_to_probs(sharp, None, SamplingOptions(top_p=0.5, temperature=10.0, repetition_penalty=1.0))
    assert probs.tolist() == [[1.0, 0.0, 0.0]]


def test_draw_follows_the_distribution() -> None:
    probs = torch.tensor([[0.7, 0.2, 0.1, 0.0]]).expand(20000, 4).contiguous()
    tokens = draw(probs, torch.Generator().manual_seed(0))[:, 0]
    freq = torch.bincount(tokens, minlength=4).float() / tokens.numel()
    assert torch.allclose(freq, probs[0], atol=0.02)
    assert freq[3] == 0
    again = draw(probs, torch.Generator().manual_seed(0))[:, 0]
    assert torch.equal(tokens, again)


def test_legacy_sample_top_k_one_is_argmax() -> None:
    from GPT_SoVITS.parity.hooks import legacy_sample

    logits = torch.tensor([[0.1, 5.0, 4.9], [3.0, -1.0, 2.0]])
    assert legacy_sample(logits, 1, 1.0, torch.Generator().manual_seed(1))[:, 0].tolist() == [1, 0]
