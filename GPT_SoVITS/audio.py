"""Audio input/output and the official spectrogram / mel numerics (module/mel_processing.py).

Decoding: soundfile first (wav/flac/ogg/mp3), ffmpeg for everything else (m4a/aac/...). Resampling: soxr
through librosa. The spectrogram functions reproduce the official ones bit for bit in float32 (same
padding, periodic Hann window, magnitude with a 1e-8 floor, Slaney mel filters from librosa).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.fileio import atomic_output

log = logging.getLogger(__name__)


class AudioError(UserError):
    """An audio file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (T, C)
    return data.T, int(sr)


def _probe_ffmpeg(path: Path) -> tuple[int, int]:
    """(sample_rate, channels) of the first audio stream, via ffprobe."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate,channels",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    fields = out.stdout.strip().split(",")
    if out.returncode != 0 or len(fields) < 2 or not fields[0].isdigit():
        raise AudioError(path, "not a decodable audio file")
    return int(fields[0]), int(fields[1])


def _decode_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    if shutil.which("ffmpeg") is None:
        raise AudioError(path, "cannot decode this format without ffmpeg (install ffmpeg)")
    sr, channels = _probe_ffmpeg(path)
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    out = subprocess.run(cmd, capture_output=True, check=False)
    if out.returncode != 0:
        raise AudioError(path, f"ffmpeg failed: {out.stderr.decode(errors='replace').strip()[:200]}")
    pcm = np.frombuffer(out.stdout, dtype=np.float32)
    frames = len(pcm) // channels
    return pcm[: frames * channels].reshape(frames, channels).T.copy(), sr


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(channels, frames) float32 and the file's sample rate."""
    if not path.is_file():
        raise AudioError(path, "file not found")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    try:
        return _decode_soundfile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _decode_ffmpeg(path)


def resample(wav: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample along the last axis (soxr high quality)."""
    if sr_from == sr_to:
        return wav.astype(np.float32, copy=False)
    import librosa

    return librosa.resample(wav.astype(np.float32), orig_sr=sr_from, target_sr=sr_to, res_type="soxr_hq")


def _check_samples(path: str | os.PathLike, data: np.ndarray) -> None:
    """AudioError for no samples or NaN/Inf; a warning naming the file for floats beyond full scale."""
    if data.shape[-1] == 0:
        raise AudioError(path, "contains no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(path, "contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > 1.0:
        log.warning(
            "%s: samples reach %.2f, beyond full scale (1.0); kept as they are, PCM output clips them",
            path, peak,
        )  # fmt: skip


def load_audio(path: str | os.PathLike, sr: int | None = None, mono: bool = True) -> np.ndarray:
    """Decode any common format: mono -> [T] else [C, T], float32 in [-1, 1], resampled to ``sr`` if given."""
    path = Path(path)
    data, file_sr = _decode(path)
    _check_samples(path, data)
    if mono:
        data = data.mean(axis=0)
    if sr is not None:
        data = resample(data, file_sr, sr)
    return np.ascontiguousarray(data, dtype=np.float32)


def load_audio_with_rate(path: str | os.PathLike, mono: bool = True) -> tuple[np.ndarray, int]:
    """Like :func:`load_audio` without resampling, also returning the file's sample rate."""
    data, file_sr = _decode(Path(path))
    _check_samples(path, data)
    if mono:
        data = data.mean(axis=0)
    return np.ascontiguousarray(data, dtype=np.float32), file_sr


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Sample rate, channels and frames without decoding the whole file where the format allows."""
    path = Path(path)
    try:
        info = sf.info(str(path))
        return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        data, file_sr = _decode(path)
        return AudioInfo(file_sr, data.shape[0], data.shape[-1])


def save_wav(path: str | os.PathLike, wav: np.ndarray, sr: int, subtype: str = "PCM_16") -> None:
    """Write a wav atomically (temp file in the same folder, then rename). ``wav``: [T] or [C, T]."""
    data = np.asarray(wav, dtype=np.float32)
    data = data.T if data.ndim == 2 else data  # soundfile wants (T, C)
    with atomic_output(path, suffix=".wav") as tmp:
        sf.write(tmp, data, sr, subtype=subtype, format="WAV")


# ---------------------------------------------------------------------------------------------------------
# Official spectrogram numerics


@functools.lru_cache(maxsize=16)
def _hann(win_size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    # cached across calls: made outside inference mode, so that training after an inference call in the
    # same process can still save it for backward (an inference tensor cannot be)
    with torch.inference_mode(False):
        return torch.hann_window(win_size, dtype=dtype, device=device)  # periodic, as torch.stft expects


@functools.lru_cache(maxsize=16)
def _mel_basis_np(
    sampling_rate: int, n_fft: int, num_mels: int, fmin: float, fmax: float | None
) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sampling_rate, n_fft=n_fft, n_mels=num_mels, fmin=fmin, fmax=fmax)


def mel_basis(
    sampling_rate: int, n_fft: int, num_mels: int, fmin: float, fmax: float | None,
    dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
) -> torch.Tensor:  # fmt: skip
    """Slaney-style mel filter bank [num_mels, n_fft//2+1] (librosa), as the official code uses."""
    basis = _mel_basis_np(sampling_rate, n_fft, num_mels, float(fmin), fmax)
    return torch.from_numpy(basis).to(device=device, dtype=dtype)


def spectrogram_torch(
    y: torch.Tensor, n_fft: int, sampling_rate: int, hop_size: int, win_size: int, center: bool = False
) -> torch.Tensor:
    """Linear magnitude spectrogram: y [B, T] -> [B, n_fft//2+1, frames].

    Reflect padding of (n_fft - hop)/2 on both sides, then an un-centred STFT, so frames = T // hop for
    the official parameters. ``sampling_rate`` is unused (kept for the official signature).
    """
    del sampling_rate
    pad = (n_fft - hop_size) // 2
    y = torch.nn.functional.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = _hann(win_size, y.dtype, y.device)
    stft = torch.stft(
        y, n_fft, hop_length=hop_size, win_length=win_size, window=window, center=center,
        pad_mode="reflect", normalized=False, onesided=True, return_complex=True,
    )  # fmt: skip
    return torch.sqrt(stft.real.pow(2) + stft.imag.pow(2) + 1e-8)


def spec_to_mel_torch(
    spec: torch.Tensor, n_fft: int, num_mels: int, sampling_rate: int, fmin: float, fmax: float | None
) -> torch.Tensor:
    """Log mel from a magnitude spectrogram: log(clamp(mel_basis @ spec, 1e-5))."""
    basis = mel_basis(sampling_rate, n_fft, num_mels, fmin, fmax, spec.dtype, spec.device)
    return torch.log(torch.clamp(torch.matmul(basis, spec), min=1e-5))


def mel_spectrogram_torch(
    y: torch.Tensor, n_fft: int, num_mels: int, sampling_rate: int, hop_size: int, win_size: int,
    fmin: float, fmax: float | None, center: bool = False,
) -> torch.Tensor:  # fmt: skip
    """Training mel: y [B, T] -> [B, num_mels, frames]."""
    spec = spectrogram_torch(y, n_fft, sampling_rate, hop_size, win_size, center)
    return spec_to_mel_torch(spec, n_fft, num_mels, sampling_rate, fmin, fmax)
