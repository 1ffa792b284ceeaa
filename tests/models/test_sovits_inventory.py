"""Full-size SoVITS v1/v2 models built from the inventory configs have the official state-dict layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from GPT_SoVITS.models.sovits import MultiPeriodDiscriminator, build_sovits
from GPT_SoVITS.models.sovits.commons import remove_weight_norm, weight_norm


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_state_dict_equals_inventory(inventory_dir: Path, version: str) -> None:
    inventory = json.loads((inventory_dir / f"{version}_sovits.json").read_text(encoding="utf-8"))
    model = build_sovits(inventory["config"])
    exported = [
        (key, list(t.shape), str(t.dtype).removeprefix("torch."))
        for key, t in model.half().state_dict().items()
        if "enc_q" not in key
    ]
    expected = [(key, shape, dtype) for key, (shape, dtype) in inventory["state_dict"].items()]
    assert len(exported) == len(expected)
    mismatches = [(a, b) for a, b in zip(exported, expected, strict=True) if a != b]
    assert not mismatches, mismatches[:5]
    # the training-only posterior encoder is built, and it is what the exporter drops
    assert any(key.startswith("enc_q.") for key in model.state_dict())
    n_symbols = 322 if version == "v1" else 732
    assert model.enc_p.text_embedding.num_embeddings == n_symbols


def test_discriminator_layout_and_forward() -> None:
    disc = MultiPeriodDiscriminator()
    keys = list(disc.state_dict())
    # official s2D: a scale discriminator then periods 2, 3, 5, 7, 11, all weight-normed
    assert len(disc.discriminators) == 6
    assert [d.period for d in disc.discriminators[1:]] == [2, 3, 5, 7, 11]
    for prefix in ("discriminators.0.convs.0", "discriminators.5.conv_post", "discriminators.1.convs.4"):
        assert [k for k in keys if k.startswith(prefix + ".")] == [
            f"{prefix}.bias",
            f"{prefix}.weight_g",
            f"{prefix}.weight_v",
        ]
    assert disc.state_dict()["discriminators.1.convs.0.weight_v"].shape == (32, 1, 5, 1)
    y, y_hat = torch.randn(2, 1, 3001), torch.randn(2, 1, 3001)  # odd length: period padding
    real, fake, fmap_r, fmap_g = disc(y, y_hat)
    assert len(real) == len(fake) == len(fmap_r) == len(fmap_g) == 6
    assert all(r.shape == f.shape and r.shape[0] == 2 for r, f in zip(real, fake, strict=True))
    assert all(len(f) == 6 for f in fmap_r[1:]) and len(fmap_r[0]) == 7


def test_weight_norm_matches_torch_and_folds() -> None:
    torch.manual_seed(0)
    ours = torch.nn.Conv1d(4, 6, 3)
    reference = torch.nn.Conv1d(4, 6, 3)
    reference.load_state_dict(ours.state_dict())
    weight_norm(ours)
    with pytest.warns(FutureWarning):
        torch.nn.utils.weight_norm(reference)
    assert list(ours.state_dict()) == list(reference.state_dict()) == ["bias", "weight_g", "weight_v"]
    with torch.no_grad():
        ours.weight_g.mul_(1.7)  # the gain is live: forward must follow it
        reference.weight_g.mul_(1.7)
    x = torch.randn(2, 4, 20)
    assert torch.equal(ours(x), reference(x))
    expected = ours(x)
    remove_weight_norm(ours)
    assert list(ours.state_dict()) == ["bias", "weight"]
    torch.testing.assert_close(ours(x), expected)
