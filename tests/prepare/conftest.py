"""espeak-ng speech, a .list, and tiny random BERT / HuBERT / SoVITS folders for the formatting stages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.audio import resample, save_wav
from GPT_SoVITS.listfile import ListEntry, write_list
from tests.conftest import require_tool
from tests.tiny_models import make_tiny_bert as _make_bert
from tests.tiny_models import make_tiny_hubert
from tests.train.synth import save_tiny_sovits

ZH_SENTENCES = [
    "今天天气很好。",
    "我们一起去公园。",
    "你好，世界。",
    "我有一个苹果。",
    "明天我们去上学。",
    "他在家里看书。",
    "这是我的朋友。",
    "我喜欢喝茶。",
    "天上有很多星星。",
    "我们下午见。",
    "请你再说一遍。",
]
EN_SENTENCES = [
    "Hello there, how are you?",
    "The weather is nice today.",
    "I like reading books.",
    "We will meet again soon.",
    "This is a short test.",
    "Please open the window.",
    "The cat sleeps on the mat.",
    "Good morning to you all.",
    "Let us go for a walk.",
    "Thank you very much.",
    "See you tomorrow morning.",
]


def espeak_clip(text: str, voice: str, out: Path, tmp: Path) -> None:
    """espeak-ng speech resampled to 32 kHz 16-bit mono."""
    raw = tmp / (out.stem + ".espeak.wav")
    subprocess.run([require_tool("espeak-ng"), "-v", voice, "-s", "190", "-w", str(raw), text], check=True)
    wav, sr = sf.read(raw, dtype="float32")
    save_wav(out, resample(wav, sr, 32000).astype(np.float32), 32000)
    raw.unlink()


def make_speech_list(folder: Path) -> tuple[Path, list[ListEntry]]:
    """>= 20 zh + en espeak clips in ``folder/wavs`` and ``folder/voice.list`` (relative paths)."""
    wavs = folder / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, text in enumerate(ZH_SENTENCES):
        espeak_clip(text, "cmn-latn-pinyin", wavs / f"zh_{i:02d}.wav", folder)
        entries.append(ListEntry(f"wavs/zh_{i:02d}.wav", "spk", "ZH", text))
    for i, text in enumerate(EN_SENTENCES):
        espeak_clip(text, "en-us", wavs / f"en_{i:02d}.wav", folder)
        entries.append(ListEntry(f"wavs/en_{i:02d}.wav", "spk", "EN", text))
    list_path = folder / "voice.list"
    write_list(list_path, entries)
    return list_path, entries


def make_tiny_bert(folder: Path, texts: list[str]) -> Path:
    """The tiny BERT whose vocabulary holds every character of the normalised ``texts``."""
    from GPT_SoVITS.text.frontend import text_to_phones

    chars = set()
    for text in texts:
        chars |= set(text_to_phones(text, "zh", "v2")[2])
    return _make_bert(folder, sorted(chars))


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ListEntry]]:
    return make_speech_list(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "bert": make_tiny_bert(root / "bert", ZH_SENTENCES),
        "hubert": make_tiny_hubert(root / "hubert"),
        "sovits": save_tiny_sovits(root / "s2G.pth"),
    }
