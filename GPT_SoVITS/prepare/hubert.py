"""Formatting stage 2: 32 kHz normalised wavs -> 5-wav32k/, HuBERT SSL features -> 4-cnhubert/.

``python -m GPT_SoVITS.prepare.hubert --exp logs/<exp> --list x.list [--hubert DIR] [--part i/n]``

As the official 2-get-hubert-wav32k.py: clips whose peak exceeds 2.2 (after decoding to float at 32 kHz)
are dropped; the rest are mixed half peak-normalised (to 0.95) and half as they are, written as 16-bit wav,
and the same mix at the official 1145.14 scale, resampled to 16 kHz, goes straight into HuBERT. Dropped
clips are recorded in dropped.tsv and listed in the report; a clip dropped because it cannot be read
(rather than by the official filters) makes the stage exit 1 at the end. Resumable: a clip with both
files is skipped.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from GPT_SoVITS import paths
from GPT_SoVITS.audio import AudioError, load_audio, resample
from GPT_SoVITS.data.experiment import Experiment, item_name
from GPT_SoVITS.fileio import atomic_output, atomic_torch_save
from GPT_SoVITS.prepare.common import audio_path, final_report, load_entries, prepare_main, prepare_parser
from GPT_SoVITS.progress import ProgressLog
from GPT_SoVITS.stage import StageError, resolve_device_args

log = logging.getLogger(__name__)
STAGE = "prepare.hubert"
MAX_PEAK = 2.2  # official filter: louder clips are dropped
MAXX = 0.95  # peak of the normalised half of the mix
ALPHA = 0.5  # share of the normalised signal in the mix
WAV_SCALE = 32768.0  # int16 full scale of the written wav
SSL_SCALE = 1145.14  # official amplitude of the HuBERT input (the model is fed unnormalised)
SR = 32000
UNREADABLE = "unreadable audio"  # the drop reason that is an error of the input, not an official filter


def normalise(wav: np.ndarray, scale: float) -> np.ndarray:
    """Official mix: ``wav/peak * (MAXX*ALPHA*scale) + (1-ALPHA)*scale*wav``."""
    peak = float(np.abs(wav).max())
    return wav / peak * (MAXX * ALPHA * scale) + ((1 - ALPHA) * scale) * wav


def write_int16_wav(path: Path, samples: np.ndarray, sr: int) -> None:
    """Atomic 16-bit wav of already-scaled samples (truncated like numpy's ``astype("int16")``)."""
    with atomic_output(path) as tmp:
        sf.write(tmp, samples.astype(np.int16), sr, subtype="PCM_16", format="WAV")


def process_clip(src: Path, name: str, exp: Experiment, extractor, dtype: torch.dtype) -> str | None:
    """Write the clip's two files; return the reason when it is dropped instead."""
    try:
        wav = load_audio(src, SR)
    except AudioError as e:
        return f"{UNREADABLE}: {e}"
    peak = float(np.abs(wav).max()) if wav.size else 0.0
    if peak > MAX_PEAK:
        return f"peak {peak:.2f} > {MAX_PEAK}"
    if peak == 0.0:
        return "silent clip (peak 0)"
    wav16 = resample(normalise(wav, SSL_SCALE).astype(np.float32), SR, 16000)
    try:
        ssl = extractor.features(wav16)
    except ValueError as e:
        return f"too short for HuBERT: {e}"
    if torch.isnan(ssl).any():
        return "HuBERT features contain NaN"
    write_int16_wav(exp.wav_path(name), normalise(wav, WAV_SCALE), SR)
    atomic_torch_save(
        ssl.detach().to("cpu", dtype if dtype != torch.bfloat16 else torch.float32), exp.hubert_path(name)
    )
    return None


def _done(exp: Experiment, name: str) -> bool:
    return exp.hubert_path(name).is_file() and exp.wav_path(name).is_file()


def _extractor(args: argparse.Namespace, device: torch.device, dtype: torch.dtype):
    if not args.hubert.is_dir():
        raise StageError(f"--hubert {args.hubert}: folder not found", field="--hubert")
    from GPT_SoVITS.features.hubert import HubertError, HubertFeatureExtractor

    try:
        return HubertFeatureExtractor(args.hubert, device=device, dtype=dtype)
    except HubertError as e:
        raise StageError(str(e), field="--hubert") from e


def process(args: argparse.Namespace, progress: ProgressLog) -> tuple[str, bool]:
    exp = Experiment(args.exp)
    entries = load_entries(args.list, args.audio_root)
    assert entries is not None
    i, n = args.part
    mine = entries[i::n]
    device, dtype = resolve_device_args(args)
    exp.hubert_dir.mkdir(parents=True, exist_ok=True)
    exp.wav_dir.mkdir(parents=True, exist_ok=True)
    todo = [e for e in mine if not _done(exp, item_name(e.path))]
    progress.write("start", stage=STAGE, total=len(mine), part=f"{i}/{n}", todo=len(todo))
    extractor = _extractor(args, device, dtype) if todo else None
    dropped: list[str] = []
    errors = 0  # drops for unreadable audio (the official filters' drops are not errors)
    already = len(mine) - len(todo)
    for k, entry in enumerate(todo, start=already + 1):
        name = item_name(entry.path)
        reason = process_clip(audio_path(entry, args.list, args.audio_root), name, exp, extractor, dtype)
        if reason is not None:
            dropped.append(f"{name} ({reason})")
            errors += reason.startswith(UNREADABLE)
            print(f"{name}: dropped: {reason}")
            exp.add_dropped(name, "hubert", reason)
            progress.write("skip", name=name, reason=reason)
            continue
        progress.write("item", done=k, total=len(mine), name=name)
    report = final_report(exp, "hubert", mine)
    if report.usable == 0:
        raise StageError(f"{STAGE}: no clip could be processed ({'; '.join(dropped[:5])})")
    summary = (
        f"{STAGE}: part {i}/{n}: {len(todo) - len(dropped)} clip(s) processed, {already} already done, "
        f"{len(dropped)} dropped; {paths.HUBERT_DIR} has {report.counts.get('hubert', 0)} item(s)"
    )
    return summary, errors == 0


def build_parser() -> argparse.ArgumentParser:
    p = prepare_parser("GPT_SoVITS.prepare.hubert", __doc__)
    p.add_argument("--hubert", type=Path, default=paths.DEFAULT_HUBERT_DIR, help="chinese-hubert-base folder")
    return p


def main(argv: list[str] | None = None) -> int:
    return prepare_main(STAGE, build_parser(), process, argv)


if __name__ == "__main__":
    raise SystemExit(main())
