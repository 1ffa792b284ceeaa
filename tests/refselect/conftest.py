"""Fixtures for the reference selector: espeak-ng clips, a .list of them, an empty library."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.refselect.db import Library
from tests.conftest import require_tool

# (file stem, pinyin spoken by espeak-ng, the transcript in the .list)
SENTENCES = (
    (
        "a",
        "jin1 tian1 tian1 qi4 hen3 hao3, wo3 men5 qu4 gong1 yuan2 san4 bu4 ba5.",
        "今天天气很好，我们去公园散步吧。",
    ),
    ("b", "wo3 men5 qu4 gong1 yuan2, jin1 tian1 hen3 hao3.", "我们去公园，今天很好。"),
    ("c", "ta1 shuo1 jin1 tian1 de5 tian1 qi4 hen3 hao3.", "她说今天的天气很好。"),
)


def espeak(path: Path, text: str, voice: str = "cmn-latn-pinyin", pad_s: float = 0.3) -> Path:
    """espeak-ng speech with ``pad_s`` of silence on both ends (a sliced clip looks like that)."""
    exe = require_tool("espeak-ng")
    raw = path.with_suffix(".raw.wav")
    subprocess.run([exe, "-v", voice, "-s", "140", "-w", str(raw), text], check=True, capture_output=True)
    wav, sr = sf.read(raw, dtype="float32")
    raw.unlink()
    pad = np.zeros(int(pad_s * sr), np.float32)
    sf.write(path, np.concatenate([pad, wav, pad]), sr)
    return path


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    for stem, pinyin, _ in SENTENCES:
        espeak(folder / f"{stem}.wav", pinyin)
    lines = [f"{stem}.wav|spk|ZH|{text}" for stem, _, text in SENTENCES]
    (folder / "voice.list").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture()
def lib(tmp_path: Path) -> Library:
    return Library(tmp_path / "refs")


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(GPT, SoVITS, second GPT) tiny random v1 weights, saved by our checkpoint writers."""
    import copy

    import torch

    from GPT_SoVITS.checkpoints import save_gpt, save_sovits
    from GPT_SoVITS.models.gpt import build_gpt
    from GPT_SoVITS.models.sovits import build_sovits
    from tests.inference.conftest import TINY_GPT_CONFIG, TINY_SOVITS_CONFIG

    folder = tmp_path_factory.mktemp("weights")
    gpts = []
    for seed in (3, 4):
        torch.manual_seed(seed)
        cfg = copy.deepcopy(TINY_GPT_CONFIG)
        gpts.append(folder / f"tiny-e{seed}.ckpt")
        save_gpt(gpts[-1], build_gpt(cfg).state_dict(), cfg, f"GPT-e{seed}")
    cfg = copy.deepcopy(TINY_SOVITS_CONFIG)
    model = build_sovits(cfg)
    for name, buf in model.named_buffers():
        if name.endswith("inited"):  # a trained codebook: no k-means on the first extract_latent
            buf.fill_(1.0)
    save_sovits(folder / "tiny_e1_s1.pth", model.state_dict(), cfg, "1epoch_1iteration", version="v1")
    return gpts[0], folder / "tiny_e1_s1.pth", gpts[1]


@pytest.fixture(scope="session")
def hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import make_tiny_hubert

    return make_tiny_hubert(tmp_path_factory.mktemp("hubert"))
