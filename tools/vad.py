"""Find speech with silero-vad and pre-split long recordings at pauses (before slicing and ASR).

    python -m tools.vad --input RAW --output SPLIT [--split-over 300 --max-piece 300]

Files longer than ``--split-over`` seconds are cut into pieces of at most ``--max-piece`` seconds, each cut
in the middle of the longest pause in the second half of the allowed span (a hard cut where there is no
pause). Pieces are ``<name>_<start:010d>_<end:010d>.wav`` (sample positions at the file's rate); shorter
files are written whole as ``<name>.wav``. ``vad.json`` lists, per input, the speech segments, the pauses
and the pieces in seconds. The silero model ships inside the silero-vad package (no download).
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import numpy as np

from GPT_SoVITS.audio import load_audio_with_rate, resample, save_wav
from GPT_SoVITS.fileio import atomic_write_bytes
from GPT_SoVITS.stage import StageError, stage_main
from tools.common import (
    OutputNames,
    add_subtype_arg,
    find_inputs,
    output_progress,
    prepare_output,
    run_files,
    tool_parser,
)

VAD_SR = 16000  # silero runs at 16 kHz


def speech_segments(wav16k: np.ndarray, model: object, args: argparse.Namespace) -> list[tuple[float, float]]:
    """Speech (start, end) in seconds for a 16 kHz mono signal."""
    import torch
    from silero_vad import get_speech_timestamps

    stamps = get_speech_timestamps(
        torch.from_numpy(np.ascontiguousarray(wav16k)),
        model,
        threshold=args.threshold,
        sampling_rate=VAD_SR,
        min_speech_duration_ms=args.min_speech_ms,
        min_silence_duration_ms=args.min_silence_ms,
        speech_pad_ms=args.speech_pad_ms,
    )
    return [(s["start"] / VAD_SR, s["end"] / VAD_SR) for s in stamps]


def pauses_between(speech: list[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    """Silent (start, end) spans, including leading and trailing silence."""
    edges = [0.0] + [t for seg in speech for t in seg] + [duration]
    return [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]


def plan_pieces(
    pauses: list[tuple[float, float]], duration: float, max_piece: float
) -> list[tuple[float, float]]:
    """Cut [0, duration] into pieces of at most ``max_piece`` s at the middle of long pauses."""
    pieces = []
    start = 0.0
    while duration - start > max_piece:
        lo, hi = start + max_piece / 2, start + max_piece
        inside = [(b - a, (a + b) / 2) for a, b in pauses if lo < (a + b) / 2 <= hi]
        cut = max(inside)[1] if inside else hi
        pieces.append((start, cut))
        start = cut
    pieces.append((start, duration))
    return pieces


def process_file(
    path: Path, names: OutputNames, args: argparse.Namespace, model: object, report: dict
) -> dict:
    wav, sr = load_audio_with_rate(path, mono=False)  # [C, T]
    duration = wav.shape[-1] / sr
    speech = speech_segments(resample(wav.mean(axis=0), sr, VAD_SR), model, args)
    pauses = pauses_between(speech, duration)
    split = duration > args.split_over
    pieces = plan_pieces(pauses, duration, args.max_piece) if split else [(0.0, duration)]
    files = []
    for start, end in pieces:
        a, b = round(start * sr), round(end * sr)
        out = names.path(path, f"_{a:010d}_{b:010d}.wav" if split else ".wav")
        audio = wav[:, a:b]
        save_wav(out, audio[0] if audio.shape[0] == 1 else audio, sr, subtype=args.subtype)
        files.append(out.name)
    rounded = [[round(x, 3) for x in span] for span in speech]
    report[str(path)] = {
        "duration": round(duration, 3),
        "speech": rounded,
        "pauses": [[round(x, 3) for x in span] for span in pauses],
        "pieces": [[round(x, 3) for x in span] for span in pieces],
        "files": files,
    }
    return {"speech_segments": len(speech), "pieces": len(pieces)}


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools.vad", __doc__)
    p.add_argument("--split-over", type=float, default=300.0, help="s; split files longer than this (300)")
    p.add_argument("--max-piece", type=float, default=300.0, help="s; longest piece after splitting (300)")
    p.add_argument("--threshold", type=float, default=0.5, help="speech probability threshold, 0..1 (0.5)")
    p.add_argument("--min-speech-ms", type=int, default=250, help="ms; shorter speech is ignored (250)")
    p.add_argument("--min-silence-ms", type=int, default=300, help="ms; shorter pauses are not pauses (300)")
    p.add_argument("--speech-pad-ms", type=int, default=30, help="ms added around each speech segment (30)")
    add_subtype_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    if args.max_piece <= 0 or args.split_over <= 0 or not 0.0 < args.threshold < 1.0:
        raise StageError("need --max-piece > 0, --split-over > 0 and 0 < --threshold < 1")
    inputs = find_inputs(args.input)
    output = prepare_output(args.output, inputs)
    from silero_vad import load_silero_vad

    model = load_silero_vad()
    report: dict = {}
    names = OutputNames(output, inputs.files)
    process = functools.partial(process_file, names=names, args=args, model=model, report=report)

    def finish() -> str:
        atomic_write_bytes(output / "vad.json", json.dumps(report, ensure_ascii=False, indent=1).encode())
        return f"speech segments in {output / 'vad.json'}"

    return run_files("vad", inputs, output, process, {"split_over": args.split_over}, finish=finish)


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, progress=output_progress)


if __name__ == "__main__":
    raise SystemExit(main())
