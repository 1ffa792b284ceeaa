"""Small pictures of audio for the UI (numpy + Pillow: no matplotlib, no torch): spectrogram thumbnails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

N_FFT = 512
HOP = 128
MAX_SECONDS = 60.0  # longer files are drawn from their first minute only


def _magma_like(x: np.ndarray) -> np.ndarray:
    """[H, W] in 0..1 -> [H, W, 3] uint8, dark blue -> purple -> orange -> pale yellow."""
    stops = np.array([[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]], np.float32)
    pos = x * (len(stops) - 1)
    i = np.clip(pos.astype(int), 0, len(stops) - 2)
    frac = (pos - i)[..., None]
    return (stops[i] * (1 - frac) + stops[i + 1] * frac).astype(np.uint8)


def spectrogram_image(path: str | Path, width: int = 320, height: int = 96) -> Image.Image:
    """Log-magnitude spectrogram of the file, low frequencies at the bottom, resized to width x height."""
    info = sf.info(str(path))
    wav, _ = sf.read(str(path), dtype="float32", always_2d=True, frames=int(MAX_SECONDS * info.samplerate))
    mono = wav.mean(1)
    if len(mono) < N_FFT:
        mono = np.pad(mono, (0, N_FFT - len(mono)))
    frames = 1 + (len(mono) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(mono[idx] * np.hanning(N_FFT), axis=1)).T  # [freq, time]
    db = 20 * np.log10(spec + 1e-6)
    top = db.max()
    norm = np.clip((db - (top - 80.0)) / 80.0, 0.0, 1.0)  # 80 dB of range below the loudest bin
    img = Image.fromarray(_magma_like(norm[::-1]))
    return img.resize((width, height), Image.Resampling.BILINEAR)
