"""Real-time factor of the data-prep stages on one long espeak-ng recording, measured in one run.

    python -m bench.tools [--minutes 5] [--threads 2] [--model pretrained_models/faster-whisper-base]

Builds a recording of English sentences with pauses (espeak-ng, 32 kHz mono, ``--minutes`` long), then
times each stage's per-file function on it in this process: slice, loudnorm, denoise (spectral), vad and
asr (faster-whisper, int8, beam 5, on the whole recording). RTF = processing seconds / audio seconds
(below 1 is faster than real time). Model loading is timed apart. Prints a table; never asserts.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 32000
SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please remember to bring your umbrella when it starts to rain.",
    "The train to the city leaves at half past seven in the morning.",
    "We planted tomatoes and beans in the garden last spring.",
    "Music can make a long drive feel much shorter than it is.",
    "Good coffee and a quiet room are all I need to work well.",
]


def make_recording(path: Path, seconds: float, work: Path) -> float:
    """Sentences (spoken once each, then reused) separated by 0.4-1.5 s pauses until ``seconds``."""
    import librosa

    voices = []
    for k, text in enumerate(SENTENCES):
        wav_path = work / f"s{k}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-w", str(wav_path), text], check=True, capture_output=True
        )
        wav, file_sr = sf.read(wav_path, dtype="float32")
        voices.append(librosa.resample(wav, orig_sr=file_sr, target_sr=SR))
    rng = np.random.default_rng(0)
    parts, total, k = [], 0, 0
    while total < seconds * SR:
        parts += [voices[k % len(voices)], np.zeros(int(rng.uniform(0.4, 1.5) * SR), np.float32)]
        total += len(parts[-2]) + len(parts[-1])
        k += 1
    wav = np.concatenate(parts)[: int(seconds * SR)]
    sf.write(path, wav, SR)
    return len(wav) / SR


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_stages(src: Path, out: Path, args: argparse.Namespace) -> list[tuple[str, float, str]]:
    """(stage, seconds, note) for each stage, in pipeline order."""
    from tools import denoise, loudnorm, slice, vad
    from tools.common import OutputNames

    rows = []
    io = ["--input", str(src), "--output", str(out)]
    cfg = slice.SliceConfig()
    rows.append(("slice", _timed(lambda: slice.slice_file(src, out, cfg)), "webui defaults, max 15 s"))
    names = OutputNames(out, [src])
    ln_args = loudnorm.build_parser().parse_args(io)
    rows.append(("loudnorm", _timed(lambda: loudnorm.process_file(src, names, ln_args)), "-16 LUFS, -1 dBTP"))
    dn_args = denoise.build_parser().parse_args([*io, "--method", "spectral"])
    rows.append(
        ("denoise", _timed(lambda: denoise.process_file(src, names, dn_args, None)), "spectral gating")
    )
    from silero_vad import load_silero_vad

    vad_args = vad.build_parser().parse_args(io)
    model = load_silero_vad()
    rows.append(
        ("vad", _timed(lambda: vad.process_file(src, names, vad_args, model, {})), "silero, split > 300 s")
    )
    if not args.skip_asr:
        rows.extend(_bench_asr(src, args))
    return rows


def _bench_asr(src: Path, args: argparse.Namespace) -> list[tuple[str, float, str]]:
    from GPT_SoVITS.audio import load_audio
    from tools.asr.whisper import WhisperTranscriber
    from tools.models import assemble_whisper_base

    folder = args.model
    if not (folder / "model.bin").is_file():
        folder = assemble_whisper_base(Path(tempfile.mkdtemp(prefix="bench-whisper-")) / "base")
    holder = {}
    load = _timed(lambda: holder.setdefault("m", WhisperTranscriber(folder, threads=args.threads)))
    wav = load_audio(src, sr=16000)
    result = {}
    seconds = _timed(lambda: result.setdefault("r", holder["m"].transcribe(wav, "en")))
    words = len(result["r"][0].split())
    return [("asr", seconds, f"whisper base int8 beam 5, {words} words (model load {load:.1f} s)")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from GPT_SoVITS.paths import DEFAULT_WHISPER_DIR

    p = argparse.ArgumentParser(prog="python -m bench.tools", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0, help="length of the recording in minutes (5)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch and whisper (2)")
    p.add_argument("--model", type=Path, default=DEFAULT_WHISPER_DIR, help="faster-whisper base folder")
    p.add_argument("--skip-asr", action="store_true", help="leave out the (slowest) asr stage")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("error: espeak-ng is needed to make the recording")
        return 2
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        work = Path(tmp)
        src = work / "recording.wav"
        (work / "out").mkdir()
        duration = make_recording(src, args.minutes * 60, work)
        print(f"recording: {duration:.1f} s of espeak-ng English at {SR} Hz, {args.threads} threads")
        print("stage | seconds | RTF | note")
        for stage, seconds, note in bench_stages(src, work / "out", args):
            print(f"{stage} | {seconds:.2f} | {seconds / duration:.4f} | {note}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
