"""HubertFeatureExtractor on a tiny random HubertModel (hidden 768) saved in a temp folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from GPT_SoVITS.features.hubert import HubertError, HubertFeatureExtractor
from tests.tiny_models import make_tiny_hubert


@pytest.fixture(scope="module")
def hubert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_hubert(tmp_path_factory.mktemp("hubert"))


def test_features_shape_rate_and_values(hubert_dir: Path) -> None:
    from transformers import HubertModel

    t = np.arange(32000) / 16000
    wav = (
        0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    ).astype(np.float32)
    ext = HubertFeatureExtractor(hubert_dir)
    feats = ext.features(wav)
    # 2 s at 16 kHz: (32000 - 400) // 320 + 1 frames, i.e. 50 Hz
    assert feats.shape == (1, 768, (32000 - 400) // 320 + 1)
    assert feats.dtype == torch.float32
    # Same numbers as the raw model on the raw waveform (no normalisation), channels first.
    ref = HubertModel.from_pretrained(str(hubert_dir)).eval()
    with torch.no_grad():
        expected = ref(torch.from_numpy(wav)[None]).last_hidden_state.transpose(1, 2)
    torch.testing.assert_close(feats, expected, atol=1e-5, rtol=1e-5)
    # A tensor input gives the same result, and different audio gives different features.
    torch.testing.assert_close(ext.features(torch.from_numpy(wav)), feats)
    assert not torch.allclose(ext.features(wav[::-1].copy()), feats)


def test_bad_inputs(hubert_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(HubertError, match=r"config\.json"):
        HubertFeatureExtractor(tmp_path)
    ext = HubertFeatureExtractor(hubert_dir)
    with pytest.raises(ValueError, match="too short"):
        ext.features(np.zeros(100, dtype=np.float32))
    with pytest.raises(ValueError, match="one-dimensional"):
        ext.features(np.zeros((2, 16000), dtype=np.float32))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16(hubert_dir: Path) -> None:
    ext = HubertFeatureExtractor(hubert_dir, device="cuda", dtype=torch.float16)
    feats = ext.features(np.zeros(16000, dtype=np.float32))
    assert feats.device.type == "cuda" and feats.dtype == torch.float32
