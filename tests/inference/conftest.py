"""Fixtures for inference and API tests: tiny random BERT / HuBERT folders, tiny v1 models, reference audio.

The golden GPT and SoVITS files (shared/parity/golden/models) are the v2 models; a v1 pair is built here
and saved with the lead's checkpoint writers, so version detection is exercised on both.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from tests import tiny_models
from tests.conftest import require_tool
from tests.tiny_models import make_tiny_hubert

TINY_GPT_CONFIG: dict[str, Any] = {
    "data": {"max_sec": 54, "pad_val": 1024},
    "model": {
        "vocab_size": 1025,
        "phoneme_vocab_size": 512,
        "embedding_dim": 64,
        "hidden_dim": 64,
        "head": 4,
        "linear_units": 256,
        "n_layer": 1,
        "dropout": 0,
        "EOS": 1024,
        "random_bert": 0,
    },
}
TINY_SOVITS_CONFIG: dict[str, Any] = {
    "train": {"segment_size": 5120},
    "data": {
        "filter_length": 2048,
        "hop_length": 640,
        "win_length": 2048,
        "sampling_rate": 32000,
        "n_speakers": 300,
    },
    "model": {
        "inter_channels": 192,
        "hidden_channels": 192,
        "filter_channels": 64,
        "n_heads": 2,
        "n_layers": 1,
        "kernel_size": 3,
        "p_dropout": 0.1,
        "resblock": "1",
        "resblock_kernel_sizes": [3],
        "resblock_dilation_sizes": [[1, 3, 5]],
        "upsample_rates": [10, 8, 2, 2, 2],
        "upsample_initial_channel": 32,
        "upsample_kernel_sizes": [16, 16, 8, 2, 2],
        "gin_channels": 512,
        "semantic_frame_rate": "25hz",
        "freeze_quantizer": True,
        "version": "v1",
    },
}


def make_tiny_bert(folder: Path) -> Path:
    """The tiny BERT with the characters the inference tests speak."""
    chars = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会今天气很好公园散步吧世界先帝创业未半而道崩殂"  # noqa: E501
    return tiny_models.make_tiny_bert(
        folder, [*sorted(set(chars)), *"abcdefghijklmnopqrstuvwxyz0123456789,.!?，。！？"]
    )


@pytest.fixture(scope="session")
def hubert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_hubert(tmp_path_factory.mktemp("hubert"))


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def golden_models(golden_dir: Path) -> tuple[Path, Path]:
    """(GPT, SoVITS) v2 files of the shared golden set, read in place."""
    models = golden_dir / "models"
    gpt = sorted(models.glob("*.ckpt"))
    sovits = sorted(models.glob("*.pth"))
    if not gpt or not sovits:
        pytest.skip(f"{models} has no .ckpt/.pth pair")
    return gpt[0], sovits[0]


@pytest.fixture(scope="session")
def v1_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny random v1 pair (512-row phoneme table, 322 SoVITS symbols) saved by our checkpoint writers."""
    from GPT_SoVITS.checkpoints import save_gpt, save_sovits
    from GPT_SoVITS.models.gpt import build_gpt
    from GPT_SoVITS.models.sovits import build_sovits

    folder = tmp_path_factory.mktemp("v1models")
    torch.manual_seed(3)
    gpt_cfg = copy.deepcopy(TINY_GPT_CONFIG)
    save_gpt(folder / "tiny-e1.ckpt", build_gpt(gpt_cfg).state_dict(), gpt_cfg, "GPT-e1")
    sovits_cfg = copy.deepcopy(TINY_SOVITS_CONFIG)
    model = build_sovits(sovits_cfg)
    for name, buf in model.named_buffers():
        if name.endswith("inited"):  # a trained codebook: no k-means on the first extract_latent
            buf.fill_(1.0)
    save_sovits(folder / "tiny_e1_s1.pth", model.state_dict(), sovits_cfg, "1epoch_1iteration", version="v1")
    return folder / "tiny-e1.ckpt", folder / "tiny_e1_s1.pth"


def speech_like(seconds: float, sr: int = 32000, seed: int = 0, f0: float = 140.0) -> np.ndarray:
    """Voiced 'syllables' (harmonics with a moving pitch) separated by short pauses; peak about 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = (np.sin(2 * np.pi * 2.5 * t) > -0.3).astype(np.float64)  # 2.5 syllables per second
    wav = voice * envelope + 0.01 * rng.standard_normal(t.size)
    return (0.5 * wav / np.max(np.abs(wav))).astype(np.float32)


@pytest.fixture(scope="session")
def refs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Reference clips: espeak-ng speech (zh, en), numpy speech-like signals of several lengths and rates."""
    folder = tmp_path_factory.mktemp("refs")
    out: dict[str, Path] = {}
    espeak = require_tool("espeak-ng")
    for name, voice, text in (
        ("zh", "cmn-latn-pinyin", "jin1 tian1 tian1 qi4 hen3 hao3, wo3 men5 qu4 gong1 yuan2."),
        ("en", "en-us", "The weather is lovely today, let us walk in the park."),
    ):
        raw = folder / f"{name}_raw.wav"
        subprocess.run([espeak, "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
        wav, sr = sf.read(raw, dtype="float32")
        # espeak speaks fast; pad to at least 3.5 s so the clip is inside the official 3-10 s range
        wav = np.concatenate([wav, np.zeros(max(0, int(3.5 * sr) - len(wav)), np.float32)])
        sf.write(folder / f"{name}.wav", wav, sr)
        out[name] = folder / f"{name}.wav"
    for name, seconds, sr, seed in (
        ("voice_a", 4.0, 32000, 1),
        ("voice_b", 5.0, 44100, 2),
        ("long", 16.0, 22050, 3),
        ("short", 1.5, 16000, 4),
    ):
        path = folder / f"{name}.wav"
        sf.write(path, speech_like(seconds, sr, seed, f0=110.0 + 60 * seed), sr)
        out[name] = path
    sf.write(folder / "silent.wav", np.zeros(32000 * 4, np.float32), 32000)
    out["silent"] = folder / "silent.wav"
    sf.write(folder / "odd_rate.wav", speech_like(4.0, 4000, 5), 4000)
    out["odd_rate"] = folder / "odd_rate.wav"
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that is not audio")
    out["corrupt"] = folder / "corrupt.wav"
    return out


@pytest.fixture(scope="session")
def engine(golden_models: tuple[Path, Path], bert_dir: Path, hubert_dir: Path):
    """v2 golden models + tiny BERT and HuBERT on CPU (shared: the engine keeps no per-request state)."""
    from GPT_SoVITS.inference.engine import TTSEngine
    from GPT_SoVITS.inference.guard import GuardConfig

    # Random GPTs rarely say EOS; a tight token limit keeps every segment short (and the tests fast).
    guard = GuardConfig(max_tokens_per_phone=2.0, slack_tokens=4)
    return TTSEngine(golden_models[0], golden_models[1], bert_dir, hubert_dir, device="cpu", guard=guard)


def copy_into(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(src, folder / src.name))
