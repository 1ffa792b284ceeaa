"""Reference audio: load and check, choose the 3-10 s prompt window, and cache what the models derive from it.

The official pipeline refuses references outside 3-10 s. Here any length is accepted: a short clip is
padded with trailing silence (its transcript stays valid), a long clip is cut to the best 3-10 s window
between pauses. A cut clip no longer matches its transcript, so the engine then decodes reference-free
and says so. Everything derived from a reference (prompt tokens, spectrogram) is cached by the file's
content hash, so an upload of the same bytes or a preset reuses the work.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from GPT_SoVITS.audio import AudioError, load_audio_with_rate, resample

log = logging.getLogger(__name__)

MIN_PROMPT_S = 3.0  # the official accepted range of the prompt clip, seconds
MAX_PROMPT_S = 10.0
MIN_RATE = 8000  # Hz; below this a file carries no usable voice (and is usually a mislabelled file)
MAX_RATE = 192000
MIN_SPEECH_S = 0.3  # shorter clips (before padding) cannot carry a timbre
SILENCE_PEAK = 1e-3  # peak below -60 dBFS: the clip is silent
FRAME_S = 0.02  # analysis frame for window choice, seconds


class ReferenceError(AudioError):
    """A reference clip that cannot be used: missing, undecodable, silent, odd sample rate, too short."""


@dataclass(frozen=True)
class Window:
    """The part of a clip used as prompt: [start_s, end_s) of the original, then pad_s of silence."""

    start_s: float
    end_s: float
    pad_s: float
    duration_s: float  # of the whole original clip
    note: str  # human-readable account of what was done ("" when the clip was used as is)

    @property
    def cropped(self) -> bool:
        return self.start_s > 0.0 or self.end_s < self.duration_s - 1e-6


def file_digest(path: str | Path) -> str:
    """sha256 of the file's bytes (the cache key: same content, same prompt, whatever the name)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_reference(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the file's rate, after the checks that make a clip unusable."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceError(path, "reference audio not found")
    try:
        wav, sr = load_audio_with_rate(path)
    except AudioError as e:
        raise ReferenceError(path, e.reason) from e
    if not MIN_RATE <= sr <= MAX_RATE:
        raise ReferenceError(path, f"unsupported sample rate {sr} Hz (expected {MIN_RATE}-{MAX_RATE} Hz)")
    if not np.all(np.isfinite(wav)):
        raise ReferenceError(path, "contains NaN or infinite samples")
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak < SILENCE_PEAK:
        raise ReferenceError(path, f"reference audio is silent (peak {peak:.2g} < {SILENCE_PEAK:g})")
    if wav.size / sr < MIN_SPEECH_S:
        raise ReferenceError(path, f"reference audio is too short ({wav.size / sr:.2f} s < {MIN_SPEECH_S} s)")
    return wav, sr


def _frame_energy(wav: np.ndarray, sr: int) -> np.ndarray:
    """RMS per FRAME_S frame (no overlap)."""
    hop = max(1, int(sr * FRAME_S))
    n = len(wav) // hop
    frames = wav[: n * hop].reshape(n, hop)
    return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def choose_window(
    wav: np.ndarray, sr: int, min_s: float = MIN_PROMPT_S, max_s: float = MAX_PROMPT_S
) -> Window:
    """The prompt window: the whole clip when it fits; padded when short; else the best pause-bounded window.

    Best = most voiced frames; window edges fall in the quietest frames so no word is cut in half.
    """
    duration = len(wav) / sr
    if duration < min_s:
        pad = min_s - duration
        return Window(
            0.0,
            duration,
            pad,
            duration,
            f"reference is {duration:.2f} s (< {min_s:g} s): padded with {pad:.2f} s of silence",
        )
    if duration <= max_s:
        return Window(0.0, duration, 0.0, duration, "")
    energy = _frame_energy(wav, sr)
    n = len(energy)
    db = 20 * np.log10(energy / (energy.max() + 1e-12) + 1e-12)
    voiced = db > -35.0  # frames within 35 dB of the loudest: speech
    quiet = np.argsort(db, kind="stable")
    # Candidate edges: the quietest 30 % of frames (pauses), plus the clip's two ends.
    candidates = np.unique(np.concatenate([quiet[: max(2, int(0.3 * n))], [0, n]]))
    cum = np.concatenate([[0], np.cumsum(voiced)])
    lo, hi = round(min_s / FRAME_S), round(max_s / FRAME_S)
    starts, ends = np.meshgrid(candidates, candidates, indexing="ij")
    length = ends - starts
    ok = (length >= lo) & (length <= hi)
    if not ok.any():  # no pause-bounded window in range: the loudest max_s stretch
        sums = cum[hi:] - cum[:-hi]
        s = int(np.argmax(sums))
        e = s + hi
    else:
        # Voiced frames first; among equals prefer the longer window, then the earlier one.
        score = np.where(ok, (cum[np.minimum(ends, n)] - cum[starts]) * 4 * n + length, -1)
        s, e = (int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))
        s, e = int(candidates[s]), int(candidates[e])
    start_s, end_s = s * FRAME_S, min(e * FRAME_S, duration)
    note = (
        f"reference is {duration:.2f} s (> {max_s:g} s): using the {start_s:.2f}-{end_s:.2f} s window "
        f"({end_s - start_s:.2f} s) for the prompt"
    )
    return Window(start_s, end_s, 0.0, duration, note)


def apply_window(wav: np.ndarray, sr: int, window: Window) -> np.ndarray:
    """The window's samples at rate ``sr`` (window times are in seconds, so any rate works)."""
    part = wav[round(window.start_s * sr) : round(window.end_s * sr)]
    if window.pad_s > 0:
        part = np.concatenate([part, np.zeros(round(window.pad_s * sr), dtype=part.dtype)])
    return np.ascontiguousarray(part, dtype=np.float32)


def windowed_reference(path: str | Path, rates: tuple[int, ...]) -> tuple[list[np.ndarray], Window]:
    """Load and check once, choose the window, return it resampled to each of ``rates``."""
    wav, sr = load_reference(path)
    window = choose_window(wav, sr)
    part = apply_window(wav, sr, window)
    return [resample(part, sr, rate) for rate in rates], window


K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A small thread-safe LRU map. ``get_or_make`` computes outside the lock, so a slow miss does not block
    hits on other keys; two racing misses compute the same value twice (harmless: values are pure)."""

    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
