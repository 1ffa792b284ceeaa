"""Clip tools on library clips: split (at times or at pauses), trim silence, best windows of a long take.

Results are new clips (the source stays, except for trim, which moves the untrimmed clip to the trash).
A transcript is split by ASR word timestamps when an ASR model folder is given (faster-whisper), else in
proportion to time by characters, which is an estimate: the report says which method was used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from GPT_SoVITS.refselect import clips as audio
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.refselect.library import add_samples, clip, remove_clip

log = logging.getLogger(__name__)


@dataclass
class EditReport:
    added: list[int] = field(default_factory=list)
    text_method: str = ""  # "asr-words" | "proportional-chars" | "" (no transcript)
    times: list[float] = field(default_factory=list)  # the cut points or window bounds, seconds


def asr_words(path: Path, model_dir: str | Path, language: str = "") -> list[tuple[str, float, float]]:
    """Word timestamps (word, start s, end s) from a faster-whisper model folder."""
    from faster_whisper import WhisperModel  # optional dependency, loaded only when asked for

    wav, sr = audio.read_audio(path)
    if sr != 16000:
        import librosa

        wav = librosa.resample(wav, orig_sr=sr, target_sr=16000)
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8")
    segments, _ = model.transcribe(wav, language=language or None, word_timestamps=True)
    return [(w.word, float(w.start), float(w.end)) for s in segments for w in (s.words or [])]


def split_clip(
    lib: Library,
    clip_id: int,
    times: list[float] | None = None,
    min_pause_s: float = 0.25,
    asr_model: str | Path | None = None,
) -> EditReport:
    """Cut a clip at ``times`` (seconds) or, when None, at the middle of its pauses."""
    row = clip(lib, clip_id)
    path = lib.abspath(row["path"])
    wav, sr = audio.read_audio(path)
    duration = len(wav) / sr
    if times is None:
        times = audio.pause_cut_times(wav, sr, min_pause_s)
        if not times:
            raise audio.ClipError(path, f"no pause of {min_pause_s} s or more to split at")
    times = audio.check_cut_times(path, times, duration)
    report = EditReport(times=times)
    texts = [""] * (len(times) + 1)
    if row["transcript"]:
        if asr_model:
            texts = audio.split_text_by_words(asr_words(path, asr_model, row["language"]), times)
            report.text_method = "asr-words"
        else:
            texts = audio.split_text_by_chars(row["transcript"], times, duration)
            report.text_method = "proportional-chars"
    pieces = audio.split_samples(wav, sr, times)
    short = [i for i, p in enumerate(pieces) if len(p) / sr < audio.MIN_REFERENCE_S]
    if short:
        raise audio.ClipError(path, f"piece {short[0] + 1} would be shorter than {audio.MIN_REFERENCE_S} s")
    for i, (piece, text) in enumerate(zip(pieces, texts, strict=True), start=1):
        report.added.append(
            add_samples(lib, row["role"], f"{path.stem}_part{i}", piece, sr, transcript=text,
                        language=row["language"], tags=row["tags"], source=f"split:{clip_id}")
        )  # fmt: skip
    return report


def trim_clip(lib: Library, clip_id: int, pad_s: float = 0.05) -> EditReport:
    """Cut leading and trailing silence: a new clip; the untrimmed one goes to the trash (restorable)."""
    row = clip(lib, clip_id)
    path = lib.abspath(row["path"])
    wav, sr = audio.read_audio(path)
    start, end = audio.trim_bounds(wav, sr, pad_s)
    new_id = add_samples(
        lib, row["role"], f"{path.stem}_trim", wav[start:end], sr, transcript=row["transcript"],
        language=row["language"], tags=row["tags"], notes=row["notes"], source=f"trim:{clip_id}",
    )  # fmt: skip
    remove_clip(lib, clip_id)
    return EditReport([new_id], times=[round(start / sr, 3), round(end / sr, 3)])


def window_clips(
    lib: Library, clip_id: int, count: int = 3, min_s: float = 3.0, max_s: float = 10.0
) -> EditReport:
    """The best ``count`` windows of a long recording, each added as a clip (no transcript: run ASR)."""
    row = clip(lib, clip_id)
    path = lib.abspath(row["path"])
    wav, sr = audio.read_audio(path)
    found = audio.best_windows(wav, sr, count, min_s, max_s)
    if not found:
        raise audio.ClipError(path, f"no window of {min_s}-{max_s} s (the clip lasts {len(wav) / sr:.2f} s)")
    report = EditReport()
    for w in found:
        piece = wav[int(w.start * sr) : int(w.end * sr)]
        stem = f"{path.stem}_{w.start:.1f}-{w.end:.1f}s".replace(".", "_")
        report.added.append(
            add_samples(lib, row["role"], stem, piece, sr, language=row["language"], tags=row["tags"],
                        notes=f"window score {w.score}", source=f"window:{clip_id}")
        )  # fmt: skip
        report.times += [w.start, w.end]
    return report
