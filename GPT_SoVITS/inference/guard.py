"""Guard against swallowed and repeated words (the official's most common complaint).

Two cheap checks on a segment's generated semantic tokens (25 per second of audio):
* the count must be plausible for the segment's phoneme count: natural speech runs at roughly 1.5-4
  tokens per phoneme, so far fewer means words were swallowed, far more means the model rambles;
* no short token pattern may repeat back to back for long (a stuck loop, heard as a stutter or a word
  said over and over).
A segment that fails is regenerated with another seed; the engine reports the retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GuardConfig:
    min_tokens_per_phone: float = 1.0  # below: words were swallowed (25 phonemes/s is not speech)
    max_tokens_per_phone: float = 8.0  # above: rambling, or a loop the pattern check missed
    slack_tokens: int = 12  # forgiveness for very short segments (pauses, punctuation), tokens
    max_period: int = 8  # longest repeating pattern searched, tokens
    min_loop_tokens: int = 30  # a pattern repeating back to back over this many tokens (1.2 s) is a loop
    min_loop_repeats: int = 4  # ... and at least this many times
    single_token_loop: int = 60  # one token repeated this often (2.4 s) is a stuck decoder, not a pause

    def token_limit(self, n_phones: int) -> int:
        """Most tokens a plausible rendering of ``n_phones`` phonemes has; decoding stops there."""
        return int(np.ceil(self.max_tokens_per_phone * n_phones)) + self.slack_tokens

    def token_floor(self, n_phones: int) -> int:
        return max(0, int(np.floor(self.min_tokens_per_phone * n_phones)) - self.slack_tokens)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # why not ("" when ok)


def find_loop(tokens: Sequence[int], cfg: GuardConfig) -> tuple[int, int, int] | None:
    """(period, start, repeats) of the longest back-to-back repetition that counts as a loop, else None."""
    seq = np.asarray(tokens, dtype=np.int64)
    n = len(seq)
    best: tuple[int, int, int] | None = None
    for period in range(1, min(cfg.max_period, n // 2) + 1):
        same = seq[period:] == seq[:-period]  # same[i]: token i+period repeats token i
        # Longest run of True in ``same``: the pattern spans run + period tokens.
        padded = np.concatenate([[False], same, [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        if len(edges) == 0:
            continue
        starts, ends = edges[0::2], edges[1::2]
        k = int(np.argmax(ends - starts))
        span = int(ends[k] - starts[k]) + period
        pattern = seq[starts[k] : starts[k] + period]
        if _has_shorter_period(pattern):  # e.g. "7 7" at period 2 is the period-1 run, judged there
            continue
        repeats = span // period
        needed = cfg.single_token_loop if period == 1 else cfg.min_loop_tokens
        if span >= needed and repeats >= cfg.min_loop_repeats and (best is None or span > best[2] * best[0]):
            best = (period, int(starts[k]), repeats)
    return best


def _has_shorter_period(pattern: np.ndarray) -> bool:
    n = len(pattern)
    return any(n % d == 0 and np.array_equal(pattern, np.tile(pattern[:d], n // d)) for d in range(1, n))


def check_tokens(tokens: Sequence[int], n_phones: int, cfg: GuardConfig, hit_limit: bool = False) -> Verdict:
    """Is this token sequence a plausible rendering of ``n_phones`` phonemes?"""
    n = len(tokens)
    if hit_limit or n > cfg.token_limit(n_phones):
        return Verdict(
            False, f"too long: {n} tokens for {n_phones} phonemes (limit {cfg.token_limit(n_phones)})"
        )
    if n < cfg.token_floor(n_phones):
        return Verdict(
            False, f"too short: {n} tokens for {n_phones} phonemes (floor {cfg.token_floor(n_phones)})"
        )
    loop = find_loop(tokens, cfg)
    if loop is not None:
        period, start, repeats = loop
        return Verdict(False, f"loop: a {period}-token pattern repeats {repeats} times from token {start}")
    return Verdict(True)


def badness(tokens: Sequence[int], n_phones: int, cfg: GuardConfig) -> float:
    """Ranks failed attempts when every retry failed: distance of tokens/phoneme from a typical 2.5, x10 for a
    loop. Lower is better."""
    ratio = len(tokens) / max(1, n_phones)
    score = abs(np.log((ratio + 1e-3) / 2.5))
    return float(score + (10.0 if find_loop(tokens, cfg) else 0.0))


def retry_seed(seed: int, attempt: int) -> int:
    """The seed of regeneration ``attempt`` (0 = the request's own seed); spread over 32 bits."""
    return (seed + attempt * 1_000_003) % 2**32
