"""SoVITS training data: (HuBERT features, linear spectrogram, waveform, phone ids) per item, and collate.
v2Pro/v2ProPlus items also carry the clip's SV embedding from 7-sv_cn/ (``with_sv``), as the official loader.

As the official ``TextAudioSpeakerLoader``: items are the names present in 2-name2text, 4-cnhubert and
5-wav32k; clips outside 0.6-54 s are left out; a small set is repeated until it has about 100 entries (so an
epoch is long enough to be worth a checkpoint); the order is shuffled with seed 1234.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from GPT_SoVITS import paths
from GPT_SoVITS.audio import audio_info, load_audio, spectrogram_torch
from GPT_SoVITS.config.sovits import SoVITSDataConfig
from GPT_SoVITS.data.experiment import Experiment

log = logging.getLogger(__name__)

MIN_SECONDS = 0.6
MAX_SECONDS = 54.0
MIN_EPOCH_ITEMS = 100  # official: small sets are repeated to at least this many entries
# Official spectrogram-frame bucket boundaries (frames at hop 640: 0.64 s ... 38 s).
SOVITS_BOUNDARIES = [
    32,
    300,
    400,
    500,
    600,
    700,
    800,
    900,
    1000,
    1100,
    1200,
    1300,
    1400,
    1500,
    1600,
    1700,
    1800,
    1900,
]


@dataclass(frozen=True)
class SoVITSItem:
    name: str
    phone_ids: tuple[int, ...]
    frames: int  # spectrogram frames (length key of the bucket sampler)


def repeat_small(items: list, min_items: int = MIN_EPOCH_ITEMS) -> list:
    """Official padding of tiny data sets: ``max(2, min_items // n)`` copies when ``n < min_items``."""
    if not items or len(items) >= min_items:
        return list(items)
    return list(items) * max(2, min_items // len(items))


class SoVITSDataset(Dataset):
    def __init__(
        self,
        exp: Experiment,
        names: Sequence[str],
        to_ids: Callable[[Sequence[str]], list[int]],
        data: SoVITSDataConfig,
        min_items: int = MIN_EPOCH_ITEMS,
        with_sv: bool = False,
    ) -> None:
        """with_sv: v2Pro/v2ProPlus; items without a 7-sv_cn embedding (prepare.sv) are left out."""
        self.exp = exp
        self.data = data
        self.with_sv = with_sv
        text = exp.read_text()
        items: list[SoVITSItem] = []
        skipped: dict[str, str] = {}
        for name in names:
            if with_sv and not self.sv_path(name).is_file():
                skipped[name] = f"no SV embedding {paths.SV_DIR}/{name}.pt (run prepare.sv)"
                continue
            info = audio_info(exp.wav_path(name))
            if not MIN_SECONDS < info.duration < MAX_SECONDS:
                skipped[name] = f"duration {info.duration:.2f} s outside {MIN_SECONDS}-{MAX_SECONDS} s"
                continue
            ids = tuple(to_ids(text[name].phones))
            items.append(SoVITSItem(name, ids, int(info.frames) // data.hop_length))
        for name, why in skipped.items():
            log.warning("%s: left out of SoVITS training: %s", name, why)
        if len(items) < 1:
            raise ValueError(f"{exp.root}: no clip between {MIN_SECONDS} and {MAX_SECONDS} s to train on")
        items = repeat_small(items, min_items)
        random.Random(1234).shuffle(items)
        self.items = items
        self.skipped = skipped
        self.lengths = [it.frames for it in items]

    def __len__(self) -> int:
        return len(self.items)

    def sv_path(self, name: str) -> Path:
        return self.exp.root / paths.SV_DIR / f"{name}.pt"

    def load(self, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ssl [1, 768, F], spec [n_fft/2+1, F], wav [1, T]) of one clip, frame counts aligned."""
        d = self.data
        wav = torch.from_numpy(load_audio(self.exp.wav_path(name), d.sampling_rate)).float()[None]
        spec = spectrogram_torch(
            wav, d.filter_length, d.sampling_rate, d.hop_length, d.win_length, center=False
        )[0]
        ssl = torch.load(self.exp.hubert_path(name), map_location="cpu", weights_only=True).float()
        if ssl.shape[-1] != spec.shape[-1]:
            # official: HuBERT gives one frame fewer than the spectrogram for most lengths; repeat the last
            ssl = F.pad(ssl, (0, 1), mode="replicate")
        return ssl, spec, wav

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        """(ssl, spec, wav, phone ids), plus the SV embedding [D] when ``with_sv``."""
        item = self.items[index]
        ssl, spec, wav = self.load(item.name)
        ids = torch.tensor(item.phone_ids, dtype=torch.long)
        if not self.with_sv:
            return ssl, spec, wav, ids
        sv = torch.load(self.sv_path(item.name), map_location="cpu", weights_only=True).float()
        return ssl, spec, wav, ids, sv.reshape(-1)


def _even_above(n: int) -> int:
    """Official padding target: the next even number strictly above ``n``."""
    return 2 * (n // 2 + 1)


def collate_sovits(batch: Sequence[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """Zero-pad a batch, longest spectrogram first (official ``TextAudioSpeakerCollate``).

    Returns ssl [B, 768, S], ssl_lengths [B], spec [B, C, F], spec_lengths [B], wav [B, 1, T],
    wav_lengths [B], text [B, N] long, text_lengths [B]; items with an SV embedding add sv [B, D] last.
    """
    order = sorted(range(len(batch)), key=lambda i: -batch[i][1].shape[1])
    b = len(batch)
    max_ssl = _even_above(max(x[0].shape[2] for x in batch))
    max_spec = _even_above(max(x[1].shape[1] for x in batch))
    max_wav = max(x[2].shape[1] for x in batch)
    max_text = max(x[3].shape[0] for x in batch)
    ssl = torch.zeros(b, batch[0][0].shape[1], max_ssl)
    spec = torch.zeros(b, batch[0][1].shape[0], max_spec)
    wav = torch.zeros(b, 1, max_wav)
    text = torch.zeros(b, max_text, dtype=torch.long)
    lens = torch.zeros(4, b, dtype=torch.long)
    for i, j in enumerate(order):
        s, sp, w, t = batch[j][:4]
        ssl[i, :, : s.shape[2]] = s[0]
        spec[i, :, : sp.shape[1]] = sp
        wav[i, :, : w.shape[1]] = w
        text[i, : t.shape[0]] = t
        lens[:, i] = torch.tensor([s.shape[2], sp.shape[1], w.shape[1], t.shape[0]])
    out = (ssl, lens[0], spec, lens[1], wav, lens[2], text, lens[3])
    if len(batch[0]) > 4:  # v2Pro/v2ProPlus: SV embeddings in the same (longest-first) order
        out += (torch.stack([batch[j][4] for j in order]),)
    return out
