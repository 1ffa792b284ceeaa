"""Normalise each file to a target loudness (LUFS, with a true-peak ceiling) or to a peak level.

    python -m tools.loudnorm --input RAW --output NORM [--mode lufs --target -16 --true-peak -1]
    python -m tools.loudnorm --input RAW --output NORM --mode peak --peak -6

``lufs`` measures integrated loudness (ITU-R BS.1770, pyloudnorm), applies the gain, and keeps the true
peak (4x oversampled) under the ceiling with a look-ahead limiter that only touches the peaks, so the
loudness lands on the target. ``peak`` scales the largest sample to the given dBFS (the -9..-6 dB that
tutorials have users set by hand). Channels and sample rate are kept; output ``<name>.wav``.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from GPT_SoVITS.audio import load_audio_with_rate, save_wav
from GPT_SoVITS.stage import StageError, stage_main
from tools.common import (
    ItemError,
    OutputNames,
    add_subtype_arg,
    find_inputs,
    output_progress,
    prepare_output,
    run_files,
    tool_parser,
)

LOOKAHEAD_S = 0.005  # the limiter reaches full reduction this long before a peak
OVERSAMPLE = 4  # true-peak estimate (BS.1770 uses 4x at 48 kHz)


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def true_peak(wav: np.ndarray) -> float:
    """Largest absolute value of the 4x oversampled signal; wav [C, T]."""
    return float(np.abs(resample_poly(wav, OVERSAMPLE, 1, axis=-1)).max()) if wav.size else 0.0


def loudness(wav: np.ndarray, sr: int) -> float:
    """Integrated loudness in LUFS of wav [C, T]; ItemError for clips shorter than one 400 ms block."""
    import pyloudnorm

    if wav.shape[-1] < int(0.4 * sr) + 1:
        raise ItemError(f"too short to measure loudness ({wav.shape[-1] / sr:.2f} s < 0.4 s)")
    if wav.shape[0] > 5:  # BS.1770 (pyloudnorm) weights at most 5 channels
        raise ItemError(
            f"{wav.shape[0]} channels: loudness is measured for at most 5; "
            "downmix or split it first (tools.channels), or use --mode peak"
        )
    return float(pyloudnorm.Meter(sr).integrated_loudness(wav.T.astype(np.float64)))


def limit(wav: np.ndarray, ceiling: float, sr: int) -> np.ndarray:
    """Look-ahead peak limiter: the gain is the running minimum of ceiling/|x| over +-LOOKAHEAD, then
    smoothed with a window no longer than that, so every sample ends at or under ``ceiling``."""
    span = max(1, int(LOOKAHEAD_S * sr))
    peak = np.abs(wav).max(axis=0)
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    gain = uniform_filter1d(minimum_filter1d(need, size=2 * span + 1), size=span)
    return (wav * np.minimum(gain, need)).astype(np.float32)


def normalize_lufs(wav: np.ndarray, sr: int, target: float, ceiling_db: float) -> tuple[np.ndarray, float]:
    """Gain to ``target`` LUFS with the true peak under ``ceiling_db``; returns (audio, input LUFS)."""
    before = loudness(wav, sr)
    if not np.isfinite(before):
        raise ItemError("silent: loudness is -inf, nothing to normalise")
    out = wav
    gain_db = target - before
    for _ in range(3):  # limiting lowers loudness a little: correct the gain and limit again
        out = wav * np.float32(db_to_gain(gain_db))
        ceiling = db_to_gain(ceiling_db)
        for _ in range(4):  # inter-sample peaks can still poke over: tighten the sample ceiling
            if true_peak(out) <= db_to_gain(ceiling_db) + 1e-6:
                break
            out = limit(out, ceiling, sr)
            ceiling *= db_to_gain(-0.3)
        miss = target - loudness(out, sr)
        if abs(miss) < 0.1:
            break
        gain_db += miss
    return out, before


def process_file(path: Path, names: OutputNames, args: argparse.Namespace) -> dict:
    wav, sr = load_audio_with_rate(path, mono=False)  # [C, T]
    if args.mode == "peak":
        peak = float(np.abs(wav).max())
        if peak == 0.0:
            raise ItemError("silent: all samples are zero")
        out, before = wav * np.float32(db_to_gain(args.peak) / peak), None
    else:
        out, before = normalize_lufs(wav, sr, args.target, args.true_peak)
    save_wav(names.path(path), out[0] if out.shape[0] == 1 else out, sr, subtype=args.subtype)
    after = loudness(out, sr) if out.shape[-1] > int(0.4 * sr) else None
    return {
        "lufs_before": None if before is None else round(before, 2),
        "lufs_after": None if after is None else round(after, 2),
        "true_peak_db": round(20 * np.log10(max(true_peak(out), 1e-12)), 2),
    }


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools.loudnorm", __doc__)
    p.add_argument("--mode", choices=("lufs", "peak"), default="lufs", help="loudness target or peak level")
    p.add_argument("--target", type=float, default=-16.0, help="LUFS target in lufs mode (-16)")
    p.add_argument("--true-peak", type=float, default=-1.0, help="dBTP ceiling in lufs mode (-1)")
    p.add_argument("--peak", type=float, default=-6.0, help="dBFS of the largest sample in peak mode (-6)")
    add_subtype_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    if args.true_peak > 0 or args.peak > 0 or args.target > 0:
        raise StageError("--target, --true-peak and --peak are dB values at or below 0")
    inputs = find_inputs(args.input)
    output = prepare_output(args.output, inputs)
    process = functools.partial(process_file, names=OutputNames(output, inputs.files), args=args)
    extra = {"mode": args.mode, "target": args.target, "true_peak": args.true_peak, "peak": args.peak}
    return run_files("loudnorm", inputs, output, process, extra)


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, progress=output_progress)


if __name__ == "__main__":
    raise SystemExit(main())
