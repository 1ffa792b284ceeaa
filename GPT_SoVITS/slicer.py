"""The official RMS silence slicer (GPT-SoVITS ``tools/slicer2.py``), re-implemented with numpy only.

The algorithm walks an RMS curve (one value per hop) and cuts inside silences that are long enough,
keeping at most ``max_sil_kept`` of silence on each side of a cut. Chunk boundaries are frame indices
times the hop, exactly as the official slicer reports them, so outputs and file names match it.

Additions that the official slicer lacks live apart from the official algorithm:
``split_long_chunks`` (cut over-long chunks again at the deepest RMS valley) and ``normalize_chunk``
(the peak/alpha mix the official ``slice_audio.py`` applies before writing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SlicerParams:
    """User-facing parameters; the defaults are the official ``Slicer`` constructor defaults."""

    sr: int = 32000  # sample rate of the waveform to slice, Hz
    threshold: float = -40.0  # dB; frames with RMS below it are silence candidates
    min_length: int = 5000  # ms; a chunk is not cut before it is this long
    min_interval: int = 300  # ms; the shortest silence that may be cut
    hop_size: int = 20  # ms; hop of the RMS curve
    max_sil_kept: int = 5000  # ms; the most silence left on each side of a cut


# The WebUI slicer tab (and the official slice_audio.py defaults it passes).
WEBUI_DEFAULTS = SlicerParams(
    sr=32000, threshold=-34.0, min_length=4000, min_interval=300, hop_size=10, max_sil_kept=500
)


@dataclass(frozen=True)
class FrameParams:
    """Parameters converted to samples and frames, as the official constructor derives them."""

    threshold_linear: float  # amplitude, 10 ** (dB / 20)
    hop_size: int  # samples per RMS frame
    win_size: int  # samples per RMS window
    min_length: int  # frames
    min_interval: int  # frames
    max_sil_kept: int  # frames


@dataclass(frozen=True)
class Chunk:
    """One slice: ``start``/``end`` are sample positions as the official slicer reports them (``end`` is a
    frame multiple and may exceed the signal for the last chunk); ``audio`` is [T] or [C, T]."""

    start: int
    end: int
    audio: np.ndarray


def derive_frames(params: SlicerParams) -> FrameParams:
    """Check the parameter order constraints and convert ms to frames (Python ``round``, as official)."""
    if not params.min_length >= params.min_interval >= params.hop_size:
        raise ValueError(
            f"need min_length >= min_interval >= hop_size, got {params.min_length}, "
            f"{params.min_interval}, {params.hop_size} ms"
        )
    if not params.max_sil_kept >= params.hop_size:
        raise ValueError(f"need max_sil_kept >= hop_size, got {params.max_sil_kept}, {params.hop_size} ms")
    if params.hop_size <= 0 or params.sr <= 0:
        raise ValueError(f"hop_size and sr must be positive, got {params.hop_size} ms, {params.sr} Hz")
    interval_samples = params.sr * params.min_interval / 1000
    hop = round(params.sr * params.hop_size / 1000)
    return FrameParams(
        threshold_linear=10 ** (params.threshold / 20.0),
        hop_size=hop,
        win_size=min(round(interval_samples), 4 * hop),
        min_length=round(params.sr * params.min_length / 1000 / hop),
        min_interval=round(interval_samples / hop),
        max_sil_kept=round(params.sr * params.max_sil_kept / 1000 / hop),
    )


def get_rms(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS per frame of a mono signal [T] -> [frames], centred windows with zero padding (librosa style).

    The window view has the same shape and strides as the official code's, so numpy reduces it in the
    same order and the float32 result is bit-identical.
    """
    half = frame_length // 2
    padded = np.pad(y, (half, half), mode="constant")
    # (n_windows, frame_length) -> every hop-th window -> (frame_length, frames)
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length].T
    return np.sqrt(np.mean(np.abs(frames) ** 2, axis=0))


def _argmin_in(rms: np.ndarray, lo: int, hi: int) -> int:
    """Index of the quietest frame in rms[lo:hi] (first one on ties)."""
    return int(rms[lo:hi].argmin()) + lo


def _silence_tag(rms: np.ndarray, start: int, i: int, keep: int) -> tuple[tuple[int, int], int]:
    """Frames to drop for the silence rms[start:i] and the frame where the next chunk begins.

    Short silences are cut at their quietest frame; longer ones keep at most ``keep`` frames of silence
    next to each neighbouring chunk.
    """
    length = i - start
    if length <= keep:
        pos = _argmin_in(rms, start, i + 1)
        return ((0, pos) if start == 0 else (pos, pos)), pos
    left = _argmin_in(rms, start, start + keep + 1)
    right = _argmin_in(rms, i - keep, i + 1)
    if length <= 2 * keep:
        middle = _argmin_in(rms, i - keep, start + keep + 1)
        if start == 0:
            return (0, right), right
        return (min(left, middle), max(right, middle)), max(right, middle)
    return ((0, right) if start == 0 else (left, right)), right


def find_silences(rms: np.ndarray, fp: FrameParams) -> list[tuple[int, int]]:
    """Silent frame ranges (begin, end) to remove, in order; the official slicing decisions."""
    tags: list[tuple[int, int]] = []
    silence_start: int | None = None
    clip_start = 0
    for i, value in enumerate(rms):
        if value < fp.threshold_linear:
            if silence_start is None:
                silence_start = i
            continue
        if silence_start is None:
            continue
        leading = silence_start == 0 and i > fp.max_sil_kept
        cut_here = i - silence_start >= fp.min_interval and i - clip_start >= fp.min_length
        if leading or cut_here:
            tag, clip_start = _silence_tag(rms, silence_start, i, fp.max_sil_kept)
            tags.append(tag)
        silence_start = None
    total = rms.shape[0]
    if silence_start is not None and total - silence_start >= fp.min_interval:
        end = min(total, silence_start + fp.max_sil_kept)
        tags.append((_argmin_in(rms, silence_start, end + 1), total + 1))
    return tags


def chunk_frames(tags: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """Frame ranges (begin, end) of the chunks kept between the silences."""
    if not tags:
        return [(0, total)]
    spans = []
    if tags[0][0] > 0:
        spans.append((0, tags[0][0]))
    spans.extend((tags[k][1], tags[k + 1][0]) for k in range(len(tags) - 1))
    if tags[-1][1] < total:
        spans.append((tags[-1][1], total))
    return spans


def mono_mix(waveform: np.ndarray) -> np.ndarray:
    """The signal the slicer analyses: [T] as is, [C, T] averaged over channels."""
    return waveform.mean(axis=0) if waveform.ndim > 1 else waveform


def slice_frames(waveform: np.ndarray, params: SlicerParams) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Chunk frame ranges and the RMS curve for ``waveform`` ([T] or [C, T], float)."""
    fp = derive_frames(params)
    samples = mono_mix(waveform)
    rms = get_rms(samples, fp.win_size, fp.hop_size)
    if samples.shape[0] <= fp.min_length:
        # The official slicer returns the whole input here (it compares samples with a frame count).
        return [(0, -1)], rms
    return chunk_frames(find_silences(rms, fp), rms.shape[0]), rms


def cut(waveform: np.ndarray, spans: list[tuple[int, int]], hop: int) -> list[Chunk]:
    """Turn frame ranges into chunks of ``waveform``; (0, -1) means the whole signal."""
    length = waveform.shape[-1]
    chunks = []
    for begin, end in spans:
        if end < 0:
            chunks.append(Chunk(0, length, waveform))
            continue
        audio = waveform[..., begin * hop : min(length, end * hop)]
        chunks.append(Chunk(begin * hop, end * hop, audio))
    return chunks


def slice_audio(waveform: np.ndarray, params: SlicerParams = WEBUI_DEFAULTS) -> list[Chunk]:
    """The official ``Slicer(...).slice(waveform)``: chunks with their sample positions."""
    spans, _ = slice_frames(waveform, params)
    return cut(waveform, spans, derive_frames(params).hop_size)


def split_long_chunks(
    spans: list[tuple[int, int]], rms: np.ndarray, max_frames: int, min_frames: int
) -> list[tuple[int, int]]:
    """Cut spans longer than ``max_frames`` at the deepest RMS valley, recursively, so that each piece
    is at most ``max_frames`` long; valleys closer than ``min_frames`` to an end are avoided when the
    span is long enough to allow it. ``max_frames <= 0`` returns the spans unchanged."""
    if max_frames <= 0:
        return list(spans)
    out: list[tuple[int, int]] = []
    pending = list(reversed(spans))
    while pending:
        begin, end = pending.pop()
        if end < 0:
            end = rms.shape[0]
        length = end - begin
        if length <= max_frames or length < 2:
            out.append((begin, end))
            continue
        margin = max(1, min(min_frames, length // 4))
        pos = _argmin_in(rms, begin + margin, end - margin + 1)
        pending.append((pos, end))
        pending.append((begin, pos))
    return out


def normalize_chunk(chunk: np.ndarray, max_peak: float = 0.9, alpha: float = 0.25) -> np.ndarray:
    """The official pre-write loudness mix: ``alpha`` of the chunk scaled to peak ``max_peak`` plus
    ``1 - alpha`` of the chunk as is. Chunks over full scale are first brought to peak 1; silent chunks
    are returned unchanged (the official code would divide by zero)."""
    chunk = np.asarray(chunk, dtype=np.float32)
    peak = float(np.abs(chunk).max()) if chunk.size else 0.0
    if peak == 0.0:
        return chunk
    if peak > 1.0:
        chunk = chunk / np.float32(peak)
        peak = 1.0
    return (chunk / np.float32(peak) * np.float32(max_peak * alpha) + np.float32(1 - alpha) * chunk).astype(
        np.float32
    )


def to_int16(chunk: np.ndarray) -> np.ndarray:
    """Official int16 conversion: scale by 32767 and truncate (values are within [-1, 1])."""
    return (np.clip(chunk, -1.0, 1.0) * 32767).astype(np.int16)
