"""Slice long recordings into clips at silences (the official GPT-SoVITS slicer, plus a length cap).

    python -m tools.slice --input RAW --output SLICED [--threshold -34 --min-length 4000 ...]

Audio is decoded to 32 kHz mono, sliced with GPT_SoVITS.slicer (official algorithm and defaults), each
chunk gets the official peak/alpha loudness mix and is written as 16-bit WAV named
``<input file name>_<start:010d>_<end:010d>.wav`` (sample positions at 32 kHz), as the official tool does.
``--max-length`` cuts chunks that are still too long at their deepest RMS valley (0 turns it off, which
is the official behaviour). A ``|`` in an input name becomes ``_`` in its clips' names, because .list
files use ``|`` as the field separator.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from GPT_SoVITS.audio import load_audio
from GPT_SoVITS.fileio import atomic_output
from GPT_SoVITS.slicer import (
    WEBUI_DEFAULTS,
    SlicerParams,
    cut,
    derive_frames,
    normalize_chunk,
    slice_frames,
    split_long_chunks,
    to_int16,
)
from GPT_SoVITS.stage import StageError, stage_main
from tools.common import ItemError, find_inputs, output_progress, prepare_output, run_files, tool_parser

SAMPLE_RATE = 32000  # the official slicer always works at 32 kHz


@dataclass(frozen=True)
class SliceConfig:
    params: SlicerParams = WEBUI_DEFAULTS
    max_peak: float = 0.9  # peak the alpha part of each chunk is scaled to
    alpha: float = 0.25  # share of the peak-normalised chunk in the written mix
    max_length: float = 15.0  # s; longer chunks are cut again at the deepest valley; 0 = off (official)
    dry_run: bool = False  # report chunks without writing audio


def clip_name(input_name: str, start: int, end: int) -> str:
    """Official clip file name; ``|`` is replaced so the path can go into a .list file."""
    return f"{input_name.replace('|', '_')}_{start:010d}_{end:010d}.wav"


def slice_waveform(wav: np.ndarray, cfg: SliceConfig) -> list:
    """Chunks of a 32 kHz waveform with the optional length cap applied."""
    spans, rms = slice_frames(wav, cfg.params)
    fp = derive_frames(cfg.params)
    if cfg.max_length > 0:
        max_frames = round(cfg.max_length * cfg.params.sr / fp.hop_size)
        spans = split_long_chunks(spans, rms, max_frames, fp.min_length)
    return cut(wav, spans, fp.hop_size)


def _write_int16(path: Path, data: np.ndarray, sr: int) -> None:
    """Atomic write of int16 samples (temp file in the same folder, then rename)."""
    with atomic_output(path) as tmp:
        sf.write(tmp, data, sr, subtype="PCM_16", format="WAV")


def slice_file(path: Path, output: Path, cfg: SliceConfig) -> dict:
    """Slice one file into ``output``; returns the chunk list for the progress event."""
    wav = load_audio(path, sr=SAMPLE_RATE)
    chunks = slice_waveform(wav, cfg)
    if not chunks:  # all of it is below --threshold: say so rather than finish with no clip from it
        raise ItemError(f"no sound above --threshold {cfg.params.threshold} dB: nothing to slice")
    report = []
    for chunk in chunks:
        name = clip_name(path.name, chunk.start, chunk.end)
        seconds = chunk.audio.shape[-1] / SAMPLE_RATE
        report.append({"file": name, "start": chunk.start, "end": chunk.end, "seconds": round(seconds, 3)})
        if cfg.dry_run:
            print(f"{name}\t{seconds:.2f} s")
            continue
        _write_int16(
            output / name, to_int16(normalize_chunk(chunk.audio, cfg.max_peak, cfg.alpha)), SAMPLE_RATE
        )
    return {"chunks": report, "seconds": round(wav.shape[0] / SAMPLE_RATE, 3)}


def build_parser() -> argparse.ArgumentParser:
    d = WEBUI_DEFAULTS
    p = tool_parser("tools.slice", __doc__)
    p.add_argument("--threshold", type=float, default=d.threshold, help="dB; quieter frames may be cut (-34)")
    p.add_argument(
        "--min-length", type=int, default=d.min_length, help="ms; shortest chunk before a cut (4000)"
    )
    p.add_argument("--min-interval", type=int, default=d.min_interval, help="ms; shortest silence cut (300)")
    p.add_argument("--hop-size", type=int, default=d.hop_size, help="ms; hop of the volume curve (10)")
    p.add_argument(
        "--max-sil-kept", type=int, default=d.max_sil_kept, help="ms; most silence kept beside a cut (500)"
    )
    p.add_argument("--max", type=float, default=0.9, help="peak the normalised part of each chunk gets (0.9)")
    p.add_argument(
        "--alpha", type=float, default=0.25, help="share of the normalised chunk in the mix (0.25)"
    )
    p.add_argument(
        "--max-length",
        type=float,
        default=15.0,
        help="s; cut longer chunks at the quietest point (0 = off; 15)",
    )
    p.add_argument("--processes", type=int, default=1, help="files processed in parallel (1)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the chunks and their lengths; write no audio"
    )
    return p


def run(args: argparse.Namespace) -> int:
    params = SlicerParams(
        sr=SAMPLE_RATE,
        threshold=args.threshold,
        min_length=args.min_length,
        min_interval=args.min_interval,
        hop_size=args.hop_size,
        max_sil_kept=args.max_sil_kept,
    )
    try:
        derive_frames(params)
    except ValueError as e:
        raise StageError(str(e)) from e
    if not 0.0 <= args.alpha <= 1.0 or not 0.0 < args.max <= 1.0:
        raise StageError(f"need 0 <= --alpha <= 1 and 0 < --max <= 1, got {args.alpha}, {args.max}")
    if args.max_length < 0 or args.processes < 1:
        raise StageError(
            f"need --max-length >= 0 and --processes >= 1, got {args.max_length}, {args.processes}"
        )
    cfg = SliceConfig(params, args.max, args.alpha, args.max_length, args.dry_run)
    inputs = find_inputs(args.input)
    output = prepare_output(args.output, inputs)
    process = functools.partial(slice_file, output=output, cfg=cfg)
    return run_files("slice", inputs, output, process, {"config": asdict(cfg)}, workers=args.processes)


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, progress=output_progress)


if __name__ == "__main__":
    raise SystemExit(main())
