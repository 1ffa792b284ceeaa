"""Audio loading in every common format, resampling, errors, and the official spectrogram numbers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from GPT_SoVITS.audio import (
    AudioError,
    audio_info,
    load_audio,
    load_audio_with_rate,
    mel_spectrogram_torch,
    save_wav,
    spec_to_mel_torch,
    spectrogram_torch,
)
from GPT_SoVITS.parity.core import find_model


def tone(sr: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("fmt", "subtype", "tol"),
    [("WAV", "PCM_16", 1e-4), ("WAV", "PCM_24", 1e-6), ("WAV", "PCM_U8", 1e-2), ("WAV", "FLOAT", 0),
     ("FLAC", "PCM_16", 1e-4), ("OGG", "VORBIS", 0.05), ("MP3", "MPEG_LAYER_III", 0.1)],
)  # fmt: skip
def test_formats_roundtrip(tmp_path: Path, fmt: str, subtype: str, tol: float) -> None:
    sr = 16000
    wav = tone(sr)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, wav, sr, format=fmt, subtype=subtype)
    out = load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    # Lossy codecs add delay/padding; compare energy and (for PCM) samples.
    assert abs(len(out) - len(wav)) < 0.1 * sr
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(wav**2)), rel=0.1)
    if fmt in ("WAV", "FLAC"):
        assert np.max(np.abs(out - wav)) <= tol + 1e-7


def test_m4a_through_ffmpeg(tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    src = tmp_path / "a.wav"
    sf.write(src, tone(44100, 1.0), 44100)
    dst = tmp_path / "a b 音.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-c:a", "aac", str(dst)], check=True)
    out, sr = load_audio_with_rate(dst)
    assert sr == 44100
    assert abs(len(out) / sr - 1.0) < 0.1
    assert audio_info(dst).sample_rate == 44100


def test_stereo_mixdown_and_resample(tmp_path: Path) -> None:
    sr = 48000
    left, right = tone(sr, 1.0, 300), tone(sr, 1.0, 500)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    both = load_audio(path, mono=False)
    assert both.shape == (2, sr)
    mono = load_audio(path)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)
    down = load_audio(path, sr=16000)
    assert len(down) == 16000
    # A 300 Hz + 500 Hz mix keeps its spectrum after resampling.
    spectrum = np.abs(np.fft.rfft(down))
    peaks = sorted(np.argsort(spectrum)[-2:])
    assert peaks == [300, 500]


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.wav", b"", "empty"),
    ("text.wav", b"this is not audio at all" * 10, "not a decodable audio file"),
])  # fmt: skip
def test_bad_files_name_the_file(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError) as e:
        load_audio(path)
    assert name in str(e.value) and reason in str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_save_wav_is_atomic_and_readable(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "o.wav"
    save_wav(out, tone(32000), 32000)
    assert sf.info(out).samplerate == 32000
    assert [p.name for p in out.parent.iterdir()] == ["o.wav"]  # no temp file left behind


def test_spectrogram_matches_golden(golden_dir: Path) -> None:
    data = np.load(golden_dir / "spectrogram.npz")
    cfg = find_model(golden_dir, "sovits").config["data"]
    wav = torch.from_numpy(data["wav"])[None]
    n_fft, hop, win, sr = cfg["filter_length"], cfg["hop_length"], cfg["win_length"], cfg["sampling_rate"]
    spec = spectrogram_torch(wav, n_fft, sr, hop, win)
    np.testing.assert_allclose(spec.numpy(), data["spec"], atol=1e-3)
    mel = spec_to_mel_torch(spec, n_fft, cfg["n_mel_channels"], sr, 0.0, None)
    np.testing.assert_allclose(mel.numpy(), data["mel128_from_spec"], atol=1e-4)
    train_mel = mel_spectrogram_torch(wav, n_fft, cfg["n_mel_channels"], sr, hop, win, 0.0, None)
    np.testing.assert_allclose(train_mel.numpy(), data["mel128_train"], atol=1e-4)


def test_spectrogram_frames_follow_hop() -> None:
    wav = torch.randn(2, 32000)
    spec = spectrogram_torch(wav, 2048, 32000, 640, 2048)
    assert spec.shape == (2, 1025, 32000 // 640)
    assert torch.all(spec > 0)


def test_spectrogram_trains_after_an_inference_call_in_the_same_process() -> None:
    """The cached STFT window made during inference (engine, warm-up) must not break training later."""
    import torch

    from GPT_SoVITS.audio import spectrogram_torch

    with torch.inference_mode():
        spectrogram_torch(torch.randn(1, 4000), 1024, 32000, 256, 1024)
    y = torch.randn(1, 4000, requires_grad=True)
    spectrogram_torch(y, 1024, 32000, 256, 1024).sum().backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0
