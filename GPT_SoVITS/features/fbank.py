"""Kaldi-compatible log mel filterbank (``compute-fbank-feats``), the input of the SV model.

The official SV path runs Kaldi's fbank (as ``torchaudio.compliance.kaldi.fbank``) with its defaults and
``num_mel_bins=80, sample_frequency=16000, dither=0``; torchaudio does not import here, so this is our
own implementation of exactly that configuration:

* frames of 25 ms (400 samples at 16 kHz) every 10 ms (160), ``snip_edges``: 1 + (N - 400) // 160 frames
* per frame: DC removal, pre-emphasis 0.97 (first sample against itself), Povey window (Hann ** 0.85),
  zero-padding to the next power of two (512), power spectrum
* 80 triangular bins equally spaced on the mel scale 1127 ln(1 + f / 700) from 20 Hz to Nyquist, the
  triangles evaluated at the FFT bin frequencies (the Nyquist bin gets weight 0)
* natural log with a floor of the dtype's machine epsilon; no energy column, no mean subtraction.
"""

from __future__ import annotations

import math

import torch

PREEMPHASIS = 0.97
LOW_FREQ = 20.0  # Hz
POVEY_EXPONENT = 0.85


def _mel(freq: torch.Tensor | float) -> torch.Tensor | float:
    if isinstance(freq, torch.Tensor):
        return 1127.0 * torch.log1p(freq / 700.0)
    return 1127.0 * math.log(1.0 + freq / 700.0)


def mel_banks(num_bins: int, n_fft: int, sample_rate: float, low_freq: float = LOW_FREQ) -> torch.Tensor:
    """Triangular filters [num_bins, n_fft // 2 + 1] in float32 (as Kaldi/torchaudio build them)."""
    n_half = n_fft // 2
    nyquist = 0.5 * sample_rate
    if not 0.0 <= low_freq < nyquist:
        raise ValueError(f"low_freq {low_freq} must lie in [0, {nyquist})")
    mel_low, mel_high = _mel(low_freq), _mel(nyquist)
    delta = (mel_high - mel_low) / (num_bins + 1)
    index = torch.arange(num_bins, dtype=torch.float32).unsqueeze(1)  # (bins, 1)
    left = mel_low + index * delta
    center = mel_low + (index + 1.0) * delta
    right = mel_low + (index + 2.0) * delta
    mel = _mel((sample_rate / n_fft) * torch.arange(n_half, dtype=torch.float32)).unsqueeze(0)  # (1, n_half)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)  # (bins, n_half)
    return torch.nn.functional.pad(banks, (0, 1))  # the Nyquist bin: weight 0


def _frames(wav: torch.Tensor, size: int, shift: int) -> torch.Tensor:
    """snip_edges framing: [N] -> [1 + (N - size) // shift, size] (a view)."""
    if wav.numel() < size:
        raise ValueError(f"audio too short for one {size}-sample frame: {wav.numel()} samples")
    n_frames = 1 + (wav.numel() - size) // shift
    return wav.as_strided((n_frames, size), (shift * wav.stride(0), wav.stride(0)))


def kaldi_fbank(
    wav: torch.Tensor,
    num_mel_bins: int = 80,
    sample_rate: int = 16000,
    frame_ms: float = 25.0,
    shift_ms: float = 10.0,
) -> torch.Tensor:
    """Mono waveform [N] or [1, N] (float, any scale) -> log mel energies [frames, num_mel_bins].

    Computed in the waveform's floating dtype (float32 for the official path).
    """
    if wav.dim() == 2:
        wav = wav[0]  # Kaldi reads channel 0
    if wav.dim() != 1 or not wav.is_floating_point():
        raise ValueError(f"expected a float waveform [N] or [1, N], got {tuple(wav.shape)} {wav.dtype}")
    size = int(sample_rate * frame_ms * 0.001)
    shift = int(sample_rate * shift_ms * 0.001)
    n_fft = 1 << (size - 1).bit_length()  # next power of two (512 for 400)
    frames = _frames(wav.contiguous(), size, shift)  # (F, size)
    frames = frames - frames.mean(dim=1, keepdim=True)  # DC removal
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)  # replicate-padded shift by one
    frames = frames - PREEMPHASIS * previous
    window = torch.hann_window(size, periodic=False, dtype=wav.dtype, device=wav.device).pow(POVEY_EXPONENT)
    frames = torch.nn.functional.pad(frames * window, (0, n_fft - size))  # (F, n_fft)
    power = torch.fft.rfft(frames).abs().pow(2.0)  # (F, n_fft // 2 + 1)
    banks = mel_banks(num_mel_bins, n_fft, float(sample_rate)).to(device=wav.device, dtype=wav.dtype)
    energies = power @ banks.T  # (F, bins)
    return torch.clamp(energies, min=torch.finfo(wav.dtype).eps).log()
