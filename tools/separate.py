"""Separate vocals from accompaniment with demucs (HTDemucs family) from a local model.

    python -m tools.separate --input RAW --output SEP [--model pretrained_models/demucs --name htdemucs]

``--model`` is a demucs model file (``.th``, as ``demucs.states.serialize_model`` writes it) or a folder
laid out like demucs' remote repository (``<name>.yaml`` and its ``<signature>-<hash>.th`` files, e.g.
``htdemucs.yaml`` + ``955717e8-8726e21a.th``). Nothing is downloaded. The decoded input is held in
memory (float32: about 1.3 GB per hour of 44.1 kHz stereo); separation runs on blocks of ``--block``
seconds that overlap by ``--block-overlap`` seconds and are cross-faded, and each block is written out as
soon as it is done, so the model's working memory and the outputs do not grow with the length. Outputs:
``vocal_<name>.<fmt>`` (the ``--two-stems`` source) and ``instrument_<name>.<fmt>`` (everything else),
at the model's sample rate. demucs model files are pickles: load only files you trust.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from GPT_SoVITS.audio import load_audio
from GPT_SoVITS.paths import PRETRAINED_DIR
from GPT_SoVITS.stage import StageError, add_device_args, stage_main
from tools.common import (
    OutputNames,
    add_subtype_arg,
    find_inputs,
    output_progress,
    prepare_output,
    run_files,
    tool_parser,
)

DEFAULT_MODEL = PRETRAINED_DIR / "demucs"
FORMATS = ("wav", "flac")


def load_demucs(model: Path, name: str) -> object:
    """A demucs model (or bag of models) from a local file or folder; StageError naming what is missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never let demucs reach for the hub
    from demucs.states import load_model

    if model.is_file():
        return load_model(model)
    if not model.is_dir():
        raise StageError(f"demucs model not found: {model} (a .th file or a folder with {name}.yaml)")
    from demucs.pretrained import get_model
    from demucs.repo import ModelLoadingError

    has_yaml = (model / f"{name}.yaml").is_file()
    has_th = any(p.name.startswith(name.split("-", maxsplit=1)[0]) for p in model.glob("*.th"))
    if not (has_yaml or has_th):
        raise StageError(
            f"demucs model {name!r} not found in {model}: expected {model / (name + '.yaml')} and the .th "
            f"files it lists (e.g. 955717e8-8726e21a.th for htdemucs), or pass a .th file"
        )
    try:
        return get_model(name, repo=model)
    except (ModelLoadingError, OSError, KeyError) as e:
        raise StageError(f"cannot load demucs model {name!r} from {model}: {e}") from e


class Separator:
    """Runs a demucs model over long audio block by block; ``stem`` is the source kept as 'vocal'."""

    def __init__(self, model: object, stem: str, device: str, block_s: float, overlap_s: float) -> None:
        sources = list(model.sources)
        if stem not in sources:
            raise StageError(f"--two-stems {stem!r}: the model's sources are {', '.join(sources)}")
        self.model = model.eval()
        self.index = sources.index(stem)
        self.device = device
        self.sr = int(model.samplerate)
        self.channels = int(model.audio_channels)
        self.block = max(1, round(block_s * self.sr))
        self.overlap = min(round(overlap_s * self.sr), self.block // 2)

    def _fit_channels(self, wav: np.ndarray) -> np.ndarray:
        """[C, T] -> [model channels, T]: mono is repeated, anything else downmixed then repeated."""
        if wav.shape[0] == self.channels:
            return wav
        return np.repeat(wav.mean(axis=0, keepdims=True), self.channels, axis=0)

    def _separate(self, mix: np.ndarray) -> np.ndarray:
        """[C, T] normalised mix -> the kept stem [C, T]."""
        import torch
        from demucs.apply import apply_model

        with torch.no_grad():
            out = apply_model(
                self.model, torch.from_numpy(mix)[None], split=True, overlap=0.25, device=self.device
            )
        return out[0, self.index].cpu().numpy()

    def blocks(self, wav: np.ndarray):
        """Yield (mix block, vocal block) pieces in order, cross-faded, covering wav [C, T] exactly once."""
        mix = self._fit_channels(wav)
        ref = mix.mean(axis=0)
        mean, std = float(ref.mean()), float(ref.std()) or 1.0  # demucs' own input normalisation
        step = self.block - self.overlap
        ramp = np.linspace(0.0, 1.0, self.overlap, dtype=np.float32)
        tail = None
        total = mix.shape[-1]
        for start in range(0, total, step):
            end = min(start + self.block, total)
            vocal = self._separate((mix[:, start:end] - mean) / std) * std + mean
            if tail is not None:
                n = min(self.overlap, vocal.shape[-1])
                vocal[:, :n] = tail[:, :n] * (1 - ramp[:n]) + vocal[:, :n] * ramp[:n]
            last = end >= total
            keep = vocal.shape[-1] if last else vocal.shape[-1] - self.overlap
            yield mix[:, start : start + keep], vocal[:, :keep]
            if last:
                break
            tail = vocal[:, keep:]


def separate_file(path: Path, names: OutputNames, sep: Separator, fmt: str, subtype: str) -> dict:
    wav = load_audio(path, sr=sep.sr, mono=False)  # [C, T] at the model rate
    base = names.base(path)
    final = {k: names.folder / f"{k}_{base}.{fmt}" for k in ("vocal", "instrument")}
    tmp = {k: Path(tempfile.mkstemp(prefix=f".{k}.", suffix=f".{fmt}", dir=names.folder)[1]) for k in final}
    try:
        with (
            sf.SoundFile(tmp["vocal"], "w", sep.sr, sep.channels, subtype, format=fmt.upper()) as vocal_f,
            sf.SoundFile(tmp["instrument"], "w", sep.sr, sep.channels, subtype, format=fmt.upper()) as inst_f,
        ):
            for mix, vocal in sep.blocks(wav):
                vocal_f.write(np.clip(vocal, -1, 1).T)
                inst_f.write(np.clip(mix - vocal, -1, 1).T)
        for k, dest in final.items():
            os.chmod(tmp[k], 0o644)  # mkstemp files are private; outputs are ordinary files
            os.replace(tmp[k], dest)
    finally:
        for p in tmp.values():
            p.unlink(missing_ok=True)
    return {"outputs": [p.name for p in final.values()], "seconds": round(wav.shape[-1] / sep.sr, 3)}


def build_parser() -> argparse.ArgumentParser:
    p = tool_parser("tools.separate", __doc__)
    p.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help=f"demucs .th file or folder ({DEFAULT_MODEL})"
    )
    p.add_argument("--name", default="htdemucs", help="model name inside a model folder (htdemucs)")
    p.add_argument(
        "--two-stems", default="vocals", help="source written as vocal_*, the rest as instrument_*"
    )
    p.add_argument("--format", choices=FORMATS, default="wav", help="output format (wav)")
    add_device_args(p, precision=None)
    p.add_argument("--block", type=float, default=60.0, help="s of audio separated at a time (60)")
    p.add_argument("--block-overlap", type=float, default=1.0, help="s of cross-fade between blocks (1)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch default)")
    add_subtype_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from GPT_SoVITS.devices import resolve_device

    if args.block <= 0 or args.block_overlap < 0:
        raise StageError("--block must be > 0 and --block-overlap >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = str(resolve_device(args.device))
    inputs = find_inputs(args.input)
    output = prepare_output(args.output, inputs)
    sep = Separator(
        load_demucs(args.model, args.name), args.two_stems, device, args.block, args.block_overlap
    )
    subtype = args.subtype if args.format == "wav" or args.subtype != "FLOAT" else "PCM_24"
    process = functools.partial(
        separate_file, names=OutputNames(output, inputs.files), sep=sep, fmt=args.format, subtype=subtype
    )
    return run_files("separate", inputs, output, process, {"model": str(args.model), "stem": args.two_stems})


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, build_parser(), run, progress=output_progress)


if __name__ == "__main__":
    raise SystemExit(main())
