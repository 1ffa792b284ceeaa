"""What a synthesis returns: audio plus the metadata users ask for (seed, retries, notes, timings)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from GPT_SoVITS.errors import UserError


class EngineError(UserError):
    """A request the loaded models cannot serve (unsupported language for this model version, v3/v4
    weights, missing BERT/HuBERT folder...); the message says which and why."""


@dataclass
class SegmentReport:
    index: int  # position in the text (0-based)
    text: str  # the segment as cut
    phonemes: int
    tokens: int  # semantic tokens of the kept attempt (25 per second of audio)
    seed: int  # seed of the kept attempt
    retries: int = 0  # regenerations the guard asked for
    reasons: list[str] = field(default_factory=list)  # why each rejected attempt was rejected
    accepted: bool = True  # False: every attempt failed the guard; the least bad one was kept


@dataclass
class SynthesisResult:
    sample_rate: int
    audio: np.ndarray  # float32 mono in [-1, 1]
    seed: int  # the seed actually used (random when the request said -1)
    segments: list[SegmentReport]
    notes: list[str]  # things the engine decided for the user (reference window, reference-free fallback)
    timings: dict[str, float]  # seconds per stage: reference, frontend, gpt, sovits

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    @property
    def retried(self) -> list[SegmentReport]:
        return [s for s in self.segments if s.retries]

    def metadata(self) -> dict:
        """JSON-able summary (the API's X-TTS-* headers and the CLI's report)."""
        return {
            "sample_rate": self.sample_rate,
            "duration_s": round(self.duration, 3),
            "seed": self.seed,
            "notes": self.notes,
            "retries": sum(s.retries for s in self.segments),
            "segments": [
                {
                    "index": s.index,
                    "text": s.text,
                    "phonemes": s.phonemes,
                    "tokens": s.tokens,
                    "seed": s.seed,
                    "retries": s.retries,
                    "reasons": s.reasons,
                    "accepted": s.accepted,
                }
                for s in self.segments
            ],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass(frozen=True)
class AudioChunk:
    """One piece of a streamed synthesis."""

    sample_rate: int
    audio: np.ndarray  # float32 mono
    segment: int  # index of the segment it belongs to
    final: bool  # last chunk of the whole request
    report: SegmentReport | None = None  # set on the last chunk of each segment
