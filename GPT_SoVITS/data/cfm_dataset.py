"""v3/v4 training data: the SoVITS items plus the CFM's normalised mel of each 5-wav32k clip.

As the official v3/v4 loaders, the mel is computed on the fly from the 32 kHz clip: v4 at 32 kHz (n_fft/win
1280, hop 320: 2 mel frames per spectrogram frame), v3 after resampling to 24 kHz (1024/256: 1.875 per
frame); log mel normalised to [-1, 1] as the CFM works in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from GPT_SoVITS.audio import mel_spectrogram_torch, resample
from GPT_SoVITS.data.sovits_dataset import SoVITSDataset, _even_above
from GPT_SoVITS.versions import spec

MEL_PER_SPEC_FRAME = {"v3": 1.875, "v4": 2.0}  # the official FRAME_SCALE of SynthesizerTrnV3


def cfm_mel(wav: torch.Tensor, sr: int, version: str) -> torch.Tensor:
    """wav [1, T] at ``sr`` -> normalised log mel [num_mels, M] at the version's CFM mel settings."""
    from GPT_SoVITS.models.v3v4.synthesis import norm_spec

    m = spec(version).cfm_mel
    if m is None:
        raise ValueError(f"{version} has no CFM mel")
    if sr != m.sampling_rate:
        wav = torch.from_numpy(resample(wav[0].numpy(), sr, m.sampling_rate)).float()[None]
    mel = mel_spectrogram_torch(
        wav, m.n_fft, m.num_mels, m.sampling_rate, m.hop_size, m.win_size, m.fmin, m.fmax
    )
    return norm_spec(mel)[0]


class CFMDataset(SoVITSDataset):
    """Items (ssl [1, 768, F], spec [1025, F], mel [100, M], phone ids) with M <= the CFM conditioning's
    frames (int(F * 1.875) for v3, 2F for v4)."""

    def __init__(self, *args, version: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.version = version

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        item = self.items[index]
        ssl, spec_, wav = self.load(item.name)
        mel = cfm_mel(wav, self.data.sampling_rate, self.version)
        mel = mel[:, : int(spec_.shape[-1] * MEL_PER_SPEC_FRAME[self.version])]
        return ssl, spec_, mel, torch.tensor(item.phone_ids, dtype=torch.long)


def collate_cfm(batch: Sequence[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """Zero-pad, longest spectrogram first: ssl [B, 768, S], spec [B, C, F], spec_lengths [B], mel
    [B, 100, M], mel_lengths [B], text [B, N], text_lengths [B]."""
    order = sorted(range(len(batch)), key=lambda i: -batch[i][1].shape[1])
    b = len(batch)
    max_spec = _even_above(max(x[1].shape[1] for x in batch))
    ssl = torch.zeros(b, batch[0][0].shape[1], _even_above(max(x[0].shape[2] for x in batch)))
    spec_ = torch.zeros(b, batch[0][1].shape[0], max_spec)
    mel = torch.zeros(b, batch[0][2].shape[0], max(x[2].shape[1] for x in batch))
    text = torch.zeros(b, max(x[3].shape[0] for x in batch), dtype=torch.long)
    lens = torch.zeros(3, b, dtype=torch.long)
    for i, j in enumerate(order):
        s, sp, m, t = batch[j]
        ssl[i, :, : s.shape[2]] = s[0]
        spec_[i, :, : sp.shape[1]] = sp
        mel[i, :, : m.shape[1]] = m
        text[i, : t.shape[0]] = t
        lens[:, i] = torch.tensor([sp.shape[1], m.shape[1], t.shape[0]])
    return ssl, spec_, lens[0], mel, lens[1], text, lens[2]
