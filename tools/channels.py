"""Split stereo files into one file per channel, or downmix them to mono; mono files pass through.

    python -m tools.channels --input RAW --output MONO --mode downmix|split

``split`` writes ``<name>_L.wav`` and ``<name>_R.wav`` for stereo (``<name>_ch<k>.wav`` for more
channels); ``downmix`` writes the channel mean as ``<name>.wav``. Mono inputs are written unchanged as
``<name>.wav``. The sample rate is kept.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np

from GPT_SoVITS.audio import load_audio_with_rate, save_wav
from GPT_SoVITS.stage import stage_main
from tools.common import (
    OutputNames,
    add_subtype_arg,
    find_inputs,
    output_progress,
    prepare_output,
    run_files,
    tool_parser,
)

MODES = ("downmix", "split")


def channel_suffixes(channels: int) -> list[str]:
    return ["_L", "_R"] if channels == 2 else [f"_ch{k}" for k in range(channels)]


def process_file(path: Path, names: OutputNames, mode: str, subtype: str) -> dict:
    wav, sr = load_audio_with_rate(path, mono=False)  # [C, T]
    channels = wav.shape[0]
    if channels == 1 or mode == "downmix":
        out = names.path(path)
        save_wav(out, wav.mean(axis=0) if channels > 1 else wav[0], sr, subtype=subtype)
        return {"channels": channels, "outputs": [out.name]}
    outs = []
    for suffix, channel in zip(channel_suffixes(channels), wav, strict=True):
        out = names.path(path, f"{suffix}.wav")
        save_wav(out, np.ascontiguousarray(channel), sr, subtype=subtype)
        outs.append(out.name)
    return {"channels": channels, "outputs": outs}


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools.channels", __doc__)
    p.add_argument("--mode", choices=MODES, default="downmix", help="downmix to mono, or split channels")
    add_subtype_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    inputs = find_inputs(args.input)
    output = prepare_output(args.output, inputs)
    names = OutputNames(output, inputs.files)
    process = functools.partial(process_file, names=names, mode=args.mode, subtype=args.subtype)
    return run_files("channels", inputs, output, process, {"mode": args.mode})


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, progress=output_progress)


if __name__ == "__main__":
    raise SystemExit(main())
