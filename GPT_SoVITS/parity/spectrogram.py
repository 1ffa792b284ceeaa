"""Parity group ``spectrogram``: spectrogram and mel functions against golden/spectrogram.npz.

Parameters come from the files: the linear spectrogram and the 128-bin mels use the ``data`` section of
the golden SoVITS checkpoint's config; ``mel<N>_<version>`` arrays use that version's CFM mel settings
(versions.py); ``melbasis_<n_fft>_<mels>_<sr>`` names its own parameters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from GPT_SoVITS.audio import mel_basis, mel_spectrogram_torch, spec_to_mel_torch, spectrogram_torch
from GPT_SoVITS.parity.core import CaseResult, compare_arrays, failure, find_model
from GPT_SoVITS.versions import MelSettings, spec

SPEC_TOL = 1e-3  # magnitudes up to a few hundred; float32 vs float64 differ by 2.7e-5 (README section 5)
MEL_TOL = 1e-4
BASIS_TOL = 1e-6


def _sovits_mel(golden: Path) -> MelSettings:
    data = find_model(golden, "sovits").config["data"]
    return MelSettings(
        data["filter_length"], data["hop_length"], data["win_length"], data["n_mel_channels"],
        data["sampling_rate"], data.get("mel_fmin", 0.0), data.get("mel_fmax"),
    )  # fmt: skip


def _mel_settings(key: str, sovits: MelSettings) -> MelSettings:
    """mel<N>_<suffix>: the suffix names a version with its own CFM mel, else the SoVITS data settings."""
    suffix = key.split("_", 1)[1] if "_" in key else ""
    try:
        cfm = spec(suffix).cfm_mel
    except ValueError:
        cfm = None
    return cfm or sovits


def run(golden: Path, group: str) -> list[CaseResult]:
    data = np.load(golden / "spectrogram.npz")
    wav = torch.from_numpy(data["wav"]).float()[None]  # [1, T]
    s = _sovits_mel(golden)
    spec_ours = spectrogram_torch(wav, s.n_fft, s.sampling_rate, s.hop_size, s.win_size)
    results = [compare_arrays(group, "spec", spec_ours.numpy(), data["spec"], SPEC_TOL)]

    for key in sorted(k for k in data.files if k.startswith("melbasis_")):
        _, n_fft, n_mels, sr = key.split("_")
        ours = mel_basis(int(sr), int(n_fft), int(n_mels), 0.0, None).numpy()
        results.append(compare_arrays(group, key, ours, data[key], BASIS_TOL))

    for key in sorted(k for k in data.files if k.startswith("mel") and not k.startswith("melbasis_")):
        m = _mel_settings(key, s)
        if data[key].shape[1] != m.num_mels:
            results.append(failure(group, key, f"{data[key].shape[1]} mel bins, settings give {m.num_mels}"))
            continue
        if key.endswith("_from_spec"):
            ours = spec_to_mel_torch(spec_ours, m.n_fft, m.num_mels, m.sampling_rate, m.fmin, m.fmax)
        else:
            ours = mel_spectrogram_torch(
                wav, m.n_fft, m.num_mels, m.sampling_rate, m.hop_size, m.win_size, m.fmin, m.fmax
            )
        results.append(compare_arrays(group, key, ours.numpy(), data[key], MEL_TOL))
    return results
