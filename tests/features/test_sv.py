"""SV embedding: our Kaldi fbank and ERes2NetV2 against the official numbers, and the loader's errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from GPT_SoVITS.features.fbank import kaldi_fbank, mel_banks
from GPT_SoVITS.features.sv import SpeakerEncoder, SpeakerEncoderError
from GPT_SoVITS.models.sv import ERes2NetV2, Eres2NetV2Config
from GPT_SoVITS.parity.pro import run_sv


@pytest.fixture(scope="module")
def sv_path(next_golden_dir: Path) -> Path:
    meta = json.loads((next_golden_dir / "sv_embedding.json").read_text())
    return next_golden_dir / "models" / meta["model_file"]


def test_sv_group_matches_the_official_numbers(next_golden_dir: Path) -> None:
    rows = run_sv(next_golden_dir, "sv")
    assert len(rows) >= 5 and all(r.ok for r in rows), [r.row() for r in rows if not r.ok]


def test_fbank_framing_and_mel_placement() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    tone = torch.from_numpy(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32))
    feats = kaldi_fbank(tone)
    assert feats.shape == (1 + (sr - 400) // 160, 80)
    # the loudest bin is the triangle centred nearest to 1 kHz on the mel scale
    banks = mel_banks(80, 512, sr)
    peak_bin = int(feats.mean(0).argmax())
    fft_bin_of_1khz = round(1000 / (sr / 512))
    assert peak_bin == int(banks[:, fft_bin_of_1khz].argmax())
    assert torch.all(banks[:, -1] == 0)  # Nyquist carries no weight
    # scale-free apart from the log: doubling the amplitude adds log(4) where the energy is far above eps
    assert torch.allclose(kaldi_fbank(2 * tone)[:, peak_bin], feats[:, peak_bin] + np.log(4.0), atol=1e-3)
    with pytest.raises(ValueError, match="too short"):
        kaldi_fbank(torch.zeros(399))


def test_encoder_reads_sizes_and_embeds(sv_path: Path) -> None:
    enc = SpeakerEncoder(sv_path)
    assert enc.config.m_channels == 8 and enc.embedding_dim == 2560
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(16000).astype(np.float32), rng.standard_normal(16000).astype(np.float32)
    batch = enc.embed(np.stack([a, b]))
    assert batch.shape == (2, 2560)
    torch.testing.assert_close(batch[1:], enc.embed(b), atol=1e-5, rtol=0)  # clips are independent
    assert not torch.allclose(batch[0], batch[1])


def test_encoder_errors_name_the_file(tmp_path: Path, sv_path: Path, next_golden_dir: Path) -> None:
    missing = tmp_path / "sv" / "pretrained_eres2netv2w24s4ep4.ckpt"
    with pytest.raises(SpeakerEncoderError, match=r"SV model missing.*download") as e:
        SpeakerEncoder(missing)
    assert str(missing) in str(e.value)
    sovits = next(next_golden_dir.glob("models/SoVITS_weights_v2Pro/*.pth"))
    with pytest.raises(SpeakerEncoderError, match=str(sovits)):
        SpeakerEncoder(sovits)
    other = tmp_path / "other.ckpt"
    torch.save({"conv.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(SpeakerEncoderError, match="not an ERes2NetV2 SV model"):
        SpeakerEncoder(other)
    # a state dict with one tensor of the wrong shape: strict load refuses, naming the file
    sd = torch.load(sv_path, weights_only=True)
    sd["layer3_ds.weight"] = sd["layer3_ds.weight"][:, :-1]
    broken = tmp_path / "broken.ckpt"
    torch.save(sd, broken)
    with pytest.raises(SpeakerEncoderError, match=f"{broken}: SV weights do not fit"):
        SpeakerEncoder(broken)
    with pytest.raises(SpeakerEncoderError, match=r"2560-d embeddings but x\.pth expects 20480"):
        SpeakerEncoder(sv_path).check_fits(20480, "x.pth")


def test_full_size_config_gives_20480() -> None:
    with torch.device("meta"):
        model = ERes2NetV2(Eres2NetV2Config())
    assert model.config.embedding_dim == 20480
    assert Eres2NetV2Config.from_state_dict(model.state_dict()) == Eres2NetV2Config()
