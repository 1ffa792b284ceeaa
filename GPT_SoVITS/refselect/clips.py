"""Audio tools for reference clips (numpy + soundfile only: the WebUI process may call them).

Energy is measured on 20 ms frames (10 ms hop) in dB relative to full scale; a frame is "silent" when it
is more than ``SILENCE_DB`` below the clip's loudest frame (relative, so quiet recordings work too).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from GPT_SoVITS.errors import UserError

FRAME_S = 0.02
HOP_S = 0.01
SILENCE_DB = 35.0  # below the loudest frame by this much = silence
CLIP_LEVEL = 0.999  # |sample| at or above this is clipped
MIN_REFERENCE_S = 1.0  # shorter clips cannot condition the model (the engine needs ~3 s, warns below)


class ClipError(UserError):
    """A clip that cannot be used; the message names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}", field=str(path))


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the rate; ClipError naming the file when it does not decode."""
    path = Path(path)
    if not path.is_file():
        raise ClipError(path, "file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise ClipError(path, f"cannot decode the audio ({e})") from e
    if data.shape[0] == 0:
        raise ClipError(path, "contains no audio samples")
    wav = data.mean(axis=1)
    if not np.all(np.isfinite(wav)):
        raise ClipError(path, "contains NaN or infinite samples")
    return wav, int(sr)


def write_audio(path: Path, wav: np.ndarray, sr: int) -> None:
    """16-bit wav, written atomically."""
    from GPT_SoVITS.fileio import atomic_output

    with atomic_output(path, suffix=".wav") as tmp:
        sf.write(tmp, np.clip(wav, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")


def frame_db(wav: np.ndarray, sr: int) -> np.ndarray:
    """[frames] RMS level in dBFS of 20 ms frames every 10 ms."""
    size, hop = max(1, int(FRAME_S * sr)), max(1, int(HOP_S * sr))
    if len(wav) < size:
        wav = np.pad(wav, (0, size - len(wav)))
    n = 1 + (len(wav) - size) // hop
    idx = np.arange(size)[None, :] + hop * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(wav[idx].astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(rms + 1e-9)


def silent_frames(db: np.ndarray, silence_db: float = SILENCE_DB) -> np.ndarray:
    return db < db.max() - silence_db


@dataclass(frozen=True)
class Analysis:
    duration: float  # seconds
    loudness: float  # dBFS RMS of the non-silent frames
    peak: float  # max |sample|
    clipped: float  # fraction of samples at full scale


def analyse(wav: np.ndarray, sr: int) -> Analysis:
    db = frame_db(wav, sr)
    active = db[~silent_frames(db)]
    level = 10 * np.log10(np.mean(10 ** (active / 10))) if active.size else -120.0
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    clipped = float(np.mean(np.abs(wav) >= CLIP_LEVEL)) if wav.size else 0.0
    return Analysis(round(len(wav) / sr, 3), round(float(level), 2), round(peak, 4), clipped)


def check_reference(path: str | Path, wav: np.ndarray, sr: int) -> None:
    if len(wav) / sr < MIN_REFERENCE_S:
        raise ClipError(
            path, f"only {len(wav) / sr:.2f} s long; a reference needs at least {MIN_REFERENCE_S} s"
        )
    if float(np.max(np.abs(wav))) < 1e-4:
        raise ClipError(path, "is silent")


def pauses(
    wav: np.ndarray, sr: int, min_pause_s: float = 0.25, silence_db: float = SILENCE_DB
) -> list[tuple[float, float]]:
    """(start, end) seconds of silent stretches of at least ``min_pause_s`` inside the clip."""
    silent = silent_frames(frame_db(wav, sr), silence_db)
    padded = np.concatenate([[False], silent, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    out = []
    for a, b in zip(edges[0::2], edges[1::2], strict=True):
        start, end = a * HOP_S, b * HOP_S + FRAME_S - HOP_S
        if end - start >= min_pause_s and a > 0 and b < len(silent):  # leading/trailing silence is no pause
            out.append((round(start, 3), round(min(end, len(wav) / sr), 3)))
    return out


def pause_cut_times(
    wav: np.ndarray, sr: int, min_pause_s: float = 0.25, min_piece_s: float = 1.0
) -> list[float]:
    """Cut points at the middle of pauses, skipping those that would leave a piece under ``min_piece_s``."""
    total = len(wav) / sr
    cuts: list[float] = []
    for start, end in pauses(wav, sr, min_pause_s):
        mid = round((start + end) / 2, 3)
        if mid - (cuts[-1] if cuts else 0.0) >= min_piece_s and total - mid >= min_piece_s:
            cuts.append(mid)
    return cuts


def check_cut_times(path: str | Path, times: list[float], duration: float) -> list[float]:
    ordered = sorted(float(t) for t in times)
    if not ordered:
        raise ClipError(path, "no split times given")
    bad = [t for t in ordered if not 0 < t < duration]
    if bad:
        raise ClipError(path, f"split time {bad[0]} s is outside the clip (0..{duration:.2f} s)")
    return ordered


def split_samples(wav: np.ndarray, sr: int, times: list[float]) -> list[np.ndarray]:
    bounds = [0, *(round(t * sr) for t in times), len(wav)]
    return [wav[a:b] for a, b in itertools.pairwise(bounds)]


def split_text_by_chars(text: str, times: list[float], duration: float) -> list[str]:
    """The transcript cut in proportion to time (characters spread evenly: an estimate without ASR);
    a cut moves to the nearest space or punctuation within a few characters when there is one."""
    bounds = [0.0, *times, duration]
    n = len(text)
    cuts = [0]
    for t in times:
        pos = min(n, max(cuts[-1], round(n * t / duration)))
        for d in range(0, 4):  # prefer a word/phrase boundary near the estimate
            for q in (pos + d, pos - d):
                if cuts[-1] < q < n and text[q - 1] in " ,.!?;:，。！？；：、":
                    pos = q
                    break
            else:
                continue
            break
        cuts.append(pos)
    cuts.append(n)
    pieces = [text[a:b].strip() for a, b in itertools.pairwise(cuts)]
    return pieces[: len(bounds) - 1]


def split_text_by_words(words: list[tuple[str, float, float]], times: list[float]) -> list[str]:
    """The transcript cut at ``times`` by ASR word timestamps: a word goes to the piece holding its middle."""
    bounds = [*times, float("inf")]
    pieces: list[list[str]] = [[] for _ in bounds]
    for word, start, end in words:
        mid = (start + end) / 2
        pieces[next(i for i, b in enumerate(bounds) if mid < b)].append(word)
    return ["".join(p).strip() for p in pieces]


def trim_bounds(wav: np.ndarray, sr: int, pad_s: float = 0.05) -> tuple[int, int]:
    """Sample range without leading/trailing silence, ``pad_s`` kept on each side."""
    silent = silent_frames(frame_db(wav, sr))
    voiced = np.flatnonzero(~silent)
    if voiced.size == 0:
        return 0, len(wav)
    start = max(0, int((voiced[0] * HOP_S - pad_s) * sr))
    end = min(len(wav), int((voiced[-1] * HOP_S + FRAME_S + pad_s) * sr))
    return start, end


@dataclass(frozen=True)
class Window:
    start: float  # seconds
    end: float
    score: float  # higher is better
    speech: float  # fraction of non-silent frames
    longest_pause: float  # seconds
    clipped: float  # fraction of clipped samples

    @property
    def duration(self) -> float:
        return self.end - self.start


def _window_score(db: np.ndarray, silent: np.ndarray, wav: np.ndarray, sr: int, a: int, b: int) -> Window:
    seg_silent = silent[a:b]
    speech = 1.0 - float(seg_silent.mean())
    padded = np.concatenate([[False], seg_silent, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = edges[1::2] - edges[0::2]
    inner = runs[(edges[0::2] > 0) & (edges[1::2] < len(seg_silent))] if runs.size else runs
    longest = float(inner.max()) * HOP_S if inner.size else 0.0
    samples = wav[int(a * HOP_S * sr) : int(b * HOP_S * sr)]
    clipped = float(np.mean(np.abs(samples) >= CLIP_LEVEL)) if samples.size else 0.0
    voiced = db[a:b][~seg_silent]
    steadiness = float(np.std(voiced)) if voiced.size else 30.0
    # Mostly speech, no long pause inside, no clipping, an even level; a mild preference for 5-7 s.
    dur = (b - a) * HOP_S
    score = speech - 0.5 * max(0.0, longest - 0.6) - 50 * clipped - 0.01 * steadiness - 0.02 * abs(dur - 6)
    return Window(
        round(a * HOP_S, 3), round(b * HOP_S, 3), round(score, 4), round(speech, 3), longest, clipped
    )


def best_windows(
    wav: np.ndarray, sr: int, count: int = 3, min_s: float = 3.0, max_s: float = 10.0
) -> list[Window]:
    """The ``count`` best non-overlapping windows of ``min_s``..``max_s`` seconds that start and end in a
    pause (or at the ends): energy (mostly speech, even level), pauses (none long inside) and clipping."""
    db = frame_db(wav, sr)
    silent = silent_frames(db)
    total = len(db)
    bounds = sorted({0, total, *(int((s + e) / 2 / HOP_S) for s, e in pauses(wav, sr, 0.15))})
    lo, hi = int(min_s / HOP_S), int(max_s / HOP_S)
    candidates = [
        _window_score(db, silent, wav, sr, a, b) for a in bounds for b in bounds if lo <= b - a <= hi
    ]
    if not candidates and total >= lo:  # no pause to cut at: plain sliding windows, 0.5 s apart
        step = int(0.5 / HOP_S)
        size = min(hi, total)
        candidates = [
            _window_score(db, silent, wav, sr, a, a + size) for a in range(0, total - size + 1, step)
        ]
    chosen: list[Window] = []
    for w in sorted(candidates, key=lambda w: -w.score):
        if all(w.end <= c.start or w.start >= c.end for c in chosen):
            chosen.append(w)
        if len(chosen) == count:
            break
    return sorted(chosen, key=lambda w: w.start)


def long_silences(wav: np.ndarray, sr: int, min_s: float = 1.0) -> list[tuple[float, float]]:
    """Silent stretches inside synthesised audio longer than ``min_s`` (a swallowed word or a stall)."""
    return pauses(wav, sr, min_s, silence_db=40.0)
