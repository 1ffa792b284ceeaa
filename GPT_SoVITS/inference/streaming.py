"""Token-chunk streaming: when to cut the token stream, and how to join chunks decoded apart.

Each chunk is decoded from its own tokens plus ``overlap`` tokens of the previous chunk in front. The
audio of those shared tokens exists twice (the tail of chunk k, held back, and the head of chunk k+1);
the two copies are crossfaded with complementary Hann halves, so the joined stream has no seam and its
length equals that of the tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np


def fade_curves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) of length n; they sum to 1 everywhere (Hann halves)."""
    if n <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    fade_in = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    return 1.0 - fade_in, fade_in


def crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Mix two renderings of the same stretch of audio: ``tail`` fades out while ``head`` fades in."""
    n = min(len(tail), len(head))
    fade_out, fade_in = fade_curves(n)
    return tail[-n:] * fade_out + head[:n] * fade_in if n else np.zeros(0, np.float32)


class ChunkStitcher:
    """Joins overlapping chunk renderings into a seamless stream.

    ``push(audio, head_tokens, tail_tokens, final)``: ``audio`` renders ``head_tokens`` shared with the
    previous chunk, then new tokens; its last ``tail_tokens`` are shared with the next chunk and held back
    (unless ``final``). Returns the samples that are now certain.
    """

    def __init__(self) -> None:
        self._held = np.zeros(0, np.float32)

    def push(
        self, audio: np.ndarray, n_tokens: int, head_tokens: int, tail_tokens: int, final: bool
    ) -> np.ndarray:
        audio = np.asarray(audio, np.float32)
        per_token = len(audio) / max(1, n_tokens)  # samples per token (speed changes it)
        head = min(len(audio), round(head_tokens * per_token))
        tail = 0 if final else min(len(audio) - head, round(tail_tokens * per_token))
        held = self._held
        n = min(len(held), head)  # the stretch rendered twice
        # held[:-n] was rendered once (emit it); audio[:head - n] repeats what was already emitted (drop it).
        mixed = np.concatenate(
            [held[: len(held) - n], crossfade(held[len(held) - n :], audio[head - n : head])]
        )
        out = np.concatenate([mixed, audio[head : len(audio) - tail]]).astype(np.float32)
        self._held = audio[len(audio) - tail :].copy() if tail else np.zeros(0, np.float32)
        return out

    def flush(self) -> np.ndarray:
        """Whatever is still held (after a stream that ended without a final push)."""
        out, self._held = self._held, np.zeros(0, np.float32)
        return out


@dataclass(frozen=True)
class TokenChunk:
    """Tokens to decode: ``tokens[:head]`` repeat the end of the previous chunk."""

    tokens: list[int]
    head: int
    final: bool


def chunk_tokens(
    stream: Iterable[int],
    min_chunk: int,
    overlap: int,
    split_ok: Callable[[int], bool] | None = None,
    max_chunk: int | None = None,
) -> Iterator[TokenChunk]:
    """Group a token stream into chunks of at least ``min_chunk`` new tokens.

    With ``split_ok`` (streaming_mode 2) a chunk ends at the first token after ``min_chunk`` that it
    accepts (a pause-like token), or at ``max_chunk`` (default 2 * min_chunk); without it (mode 3) every
    chunk has exactly ``min_chunk`` new tokens. The last chunk is marked final.
    """
    max_chunk = max_chunk or 2 * min_chunk
    done: list[int] = []  # every token emitted so far
    pending: list[int] = []
    for token in stream:
        pending.append(int(token))
        if len(pending) < min_chunk:
            continue
        if split_ok is not None and len(pending) < max_chunk and not split_ok(pending[-1]):
            continue
        head = done[-overlap:] if overlap and done else []
        yield TokenChunk(head + pending, len(head), False)
        done.extend(pending)
        pending = []
    head = done[-overlap:] if overlap and done else []
    if pending:
        yield TokenChunk(head + pending, len(head), True)
    elif done:  # the stream ended right after a chunk: an empty final marker releases the held tail
        yield TokenChunk([], 0, True)
