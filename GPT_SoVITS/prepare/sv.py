"""Formatting stage for v2Pro/v2ProPlus: SV embedding of every 32 kHz clip -> 7-sv_cn/<name>.pt.

``python -m GPT_SoVITS.prepare.sv --exp logs/<exp> --list x.list [--sv FILE] [--part i/n]``

As the official 2-get-sv.py: reads the 16-bit 32 kHz wav the hubert stage wrote (5-wav32k/<name>),
resamples it to 16 kHz, and stores the SV model's ``forward3`` embedding [1, 20480] (float32). Clips the
hubert stage dropped (no 5-wav32k file) are skipped and reported. Resumable: existing files are kept.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from GPT_SoVITS import paths
from GPT_SoVITS.audio import AudioError, resample
from GPT_SoVITS.data.experiment import Experiment, item_name
from GPT_SoVITS.fileio import atomic_torch_save
from GPT_SoVITS.prepare.common import load_entries, prepare_main, prepare_parser
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import ITEM_ERRORS, StageError, resolve_device_args
from GPT_SoVITS.versions import SV_MODEL_FILE

log = logging.getLogger(__name__)
STAGE = "prepare.sv"
SR = 32000  # rate of the 5-wav32k clips
SV_SR = 16000


def sv_path(exp: Experiment, name: str) -> Path:
    """Where the SV embedding of item ``name`` lives (official: 7-sv_cn/<name>.pt)."""
    return exp.root / paths.SV_DIR / f"{name}.pt"


def embed_clip(wav_file: Path, encoder) -> torch.Tensor:
    """A 5-wav32k clip -> [1, D] float32 embedding (AudioError with the reason when unusable)."""
    wav, sr = sf.read(wav_file, dtype="float32")  # int16 / 32768, as torchaudio.load
    if sr != SR:
        raise AudioError(f"{wav_file}: {sr} Hz, expected {SR} Hz (written by prepare.hubert)")
    if wav.ndim > 1:
        wav = wav.mean(axis=1)
    return encoder.embed(resample(np.ascontiguousarray(wav), SR, SV_SR)).float().cpu()


def process(args: argparse.Namespace, progress: ProgressLog) -> tuple[str, bool]:
    exp = Experiment(args.exp)
    entries = load_entries(args.list, args.audio_root)
    assert entries is not None
    i, n = args.part
    mine = [item_name(e.path) for e in entries[i::n]]
    (exp.root / paths.SV_DIR).mkdir(parents=True, exist_ok=True)
    todo = [name for name in mine if not sv_path(exp, name).is_file()]
    progress.write("start", stage=STAGE, total=len(mine), part=f"{i}/{n}", todo=len(todo))
    missing = [name for name in todo if not exp.wav_path(name).is_file()]
    for name in missing:
        print(f"{name}: skipped: no {paths.WAV32K_DIR} clip (dropped or not formatted by prepare.hubert)")
        progress.write("skip", name=name, reason=f"no {paths.WAV32K_DIR} clip")
    todo = [name for name in todo if name not in missing]
    if todo:
        from GPT_SoVITS.features.sv import SpeakerEncoder

        device, dtype = resolve_device_args(args)
        try:
            encoder = SpeakerEncoder(args.sv, device=device, dtype=dtype)
        except ValueError as e:
            raise StageError(str(e), field="--sv") from e
    failed: list[str] = []
    already = len(mine) - len(todo) - len(missing)
    for k, name in enumerate(todo, start=already + 1):
        try:
            atomic_torch_save(embed_clip(exp.wav_path(name), encoder), sv_path(exp, name))
        except (*ITEM_ERRORS, sf.LibsndfileError) as e:
            failed.append(f"{name} ({e})")
            progress.write("skip", name=name, reason=str(e))
            continue
        progress.write("item", done=k, total=len(mine), name=name)
    done = len(todo) - len(failed)
    if not mine or already + done == 0:
        raise StageError(f"{STAGE}: no clip has an SV embedding ({'; '.join((failed or missing)[:5])})")
    summary = (
        f"{STAGE}: part {i}/{n}: {done} clip(s) embedded, {already} already done, "
        f"{len(missing)} without a 32 kHz clip, {len(failed)} failed"
    )
    return summary, not failed


def build_parser() -> argparse.ArgumentParser:
    p = prepare_parser("GPT_SoVITS.prepare.sv", __doc__)
    p.add_argument(
        "--sv", type=Path, default=paths.PRETRAINED_DIR / SV_MODEL_FILE, help="SV model (ERes2NetV2 .ckpt)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    return prepare_main(STAGE, build_parser(), process, argv)


if __name__ == "__main__":
    raise SystemExit(main())
