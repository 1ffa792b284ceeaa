"""Reduce background noise: spectral gating (built in, no model) or the ModelScope FRCRN model.

    python -m tools.denoise --input SLICED --output DENOISED [--method auto|spectral|modelscope]

``spectral`` uses noisereduce (non-stationary spectral gating; ``--stationary`` for steady hiss) and
keeps channels and sample rate. ``modelscope`` runs the official GPT-SoVITS denoiser,
``speech_frcrn_ans_cirm_16k``, from a local folder (``--model``) and writes 16 kHz mono, as the
official tool does. ``auto`` uses the model folder when it is present, else spectral gating.
Output ``<name>.wav``.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path

import numpy as np

from GPT_SoVITS.audio import load_audio, load_audio_with_rate, save_wav
from GPT_SoVITS.paths import PRETRAINED_DIR
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

DEFAULT_MODEL = PRETRAINED_DIR / "speech_frcrn_ans_cirm_16k"
MODEL_SR = 16000  # the FRCRN model works on 16 kHz mono


def spectral_gate(wav: np.ndarray, sr: int, strength: float, stationary: bool) -> np.ndarray:
    """noisereduce on wav [C, T] (or [T]); ``strength`` is the fraction of the noise removed (0..1)."""
    import noisereduce

    out = noisereduce.reduce_noise(
        y=wav, sr=sr, stationary=stationary, prop_decrease=strength, use_tqdm=False
    )
    return np.clip(np.asarray(out, dtype=np.float32), -1.0, 1.0)


class ModelScopeDenoiser:
    """The ModelScope acoustic-noise-suppression pipeline on a local model folder."""

    def __init__(self, folder: Path) -> None:
        if not (folder / "configuration.json").is_file():
            raise StageError(f"denoise model not found: {folder / 'configuration.json'} is missing")
        try:
            from modelscope.pipelines import pipeline
            from modelscope.utils.constant import Tasks
        except ImportError as e:
            raise StageError("the modelscope method needs the optional package modelscope") from e
        self.pipe = pipeline(Tasks.acoustic_noise_suppression, model=str(folder))

    def __call__(self, path: Path, out: Path, subtype: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
            save_wav(src, load_audio(path, sr=MODEL_SR), MODEL_SR)
            self.pipe(str(src), output_path=str(dst))
            save_wav(out, load_audio(dst, sr=MODEL_SR), MODEL_SR, subtype=subtype)


def process_file(
    path: Path, names: OutputNames, args: argparse.Namespace, model: ModelScopeDenoiser | None
) -> dict:
    out = names.path(path)
    if model is not None:
        model(path, out, args.subtype)
        return {"method": "modelscope"}
    wav, sr = load_audio_with_rate(path, mono=False)
    clean = spectral_gate(wav, sr, args.strength, args.stationary)
    save_wav(out, clean[0] if clean.shape[0] == 1 else clean, sr, subtype=args.subtype)
    return {"method": "spectral"}


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools.denoise", __doc__)
    p.add_argument(
        "--method",
        choices=("auto", "spectral", "modelscope"),
        default="auto",
        help="auto = the model when its folder exists, else spectral gating",
    )
    p.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help=f"ModelScope model folder ({DEFAULT_MODEL})"
    )
    p.add_argument(
        "--strength", type=float, default=0.8, help="spectral: fraction of noise removed, 0..1 (0.8)"
    )
    p.add_argument("--stationary", action="store_true", help="spectral: assume steady noise (hiss, hum)")
    add_subtype_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.strength <= 1.0:
        raise StageError(f"--strength must be within 0..1, got {args.strength}")
    use_model = args.method == "modelscope" or (args.method == "auto" and args.model.is_dir())
    inputs = find_inputs(args.input)
    output = prepare_output(args.output, inputs)
    model = ModelScopeDenoiser(args.model) if use_model else None
    process = functools.partial(process_file, names=OutputNames(output, inputs.files), args=args, model=model)
    method = "modelscope" if use_model else "spectral"
    return run_files("denoise", inputs, output, process, {"method": method})


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, progress=output_progress)


if __name__ == "__main__":
    raise SystemExit(main())
