"""v2Pro/v2ProPlus SoVITS: official layout, the golden decodes, and the SV branch's behaviour."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from GPT_SoVITS.models.sovits import build_sovits, load_sovits_model
from GPT_SoVITS.parity.inventory import run as run_inventory
from GPT_SoVITS.parity.pro import run_case, run_pro


def test_inventory_group_covers_pro_and_sv(next_golden_dir: Path) -> None:
    rows = {r.case: r for r in run_inventory(next_golden_dir, "inventory")}
    for name in ("v2Pro_sovits.json", "v2ProPlus_sovits.json", "sv_eres2netv2w24s4ep4.json"):
        assert rows[name].ok, rows[name].row()
    assert all(r.ok for r in rows.values()), [r.row() for r in rows.values() if not r.ok]


def test_pro_decode_case_with_injected_noise(next_golden_dir: Path) -> None:
    rows = run_case(
        next_golden_dir,
        "v2ProPlus",
        "two_refs_speed1p25_noise0p5_injected",
        {"ref_indices": [0, 1]},
        "pro_refs.npz",
    )
    assert len(rows) == 15 and all(r.ok for r in rows), [r.row() for r in rows if not r.ok]
    assert rows[0].case == "v2ProPlus.two_refs_speed1p25_noise0p5_injected" and rows[0].error < 1e-4


@pytest.mark.slow
def test_pro_group_reproduces_the_golden_decodes(next_golden_dir: Path) -> None:
    rows = run_pro(next_golden_dir)
    assert len(rows) > 100 and all(r.ok for r in rows), [r.row() for r in rows if not r.ok][:5]


def _tiny_pro(config: dict[str, Any], version: str) -> dict[str, Any]:
    config = copy.deepcopy(config)
    config["model"].update(version=version, gin_channels=32)
    return config


def test_sv_embedding_conditions_the_voice(tiny_sovits_config: dict[str, Any]) -> None:
    torch.manual_seed(0)
    model = build_sovits(_tiny_pro(tiny_sovits_config, "v2Pro"), sv_input_dim=64).eval()
    assert model.ge_to512.out_features == 512 and model.prelu.num_parameters == 32
    codes = torch.randint(0, 1024, (1, 1, 12))
    phones = torch.randint(0, 732, (1, 9))
    spec = torch.rand(1, 1025, 40)
    sv_a, sv_b = torch.rand(1, 64), torch.rand(1, 64)
    wav_a = model.decode(codes, phones, [spec], noise_scale=0.0, sv_emb=[sv_a])
    assert wav_a.shape == (1, 1, 24 * 640)
    assert torch.equal(wav_a, model.decode(codes, phones, spec, noise_scale=0.0, sv_emb=sv_a))
    assert not torch.allclose(wav_a, model.decode(codes, phones, [spec], noise_scale=0.0, sv_emb=[sv_b]))
    with pytest.raises(ValueError, match="SV embedding"):
        model.decode(codes, phones, [spec], noise_scale=0.0)
    with pytest.raises(ValueError, match="2 references but 1 SV"):
        model.decode(codes, phones, [spec, spec], noise_scale=0.0, sv_emb=[sv_a])


@pytest.mark.slow
def test_training_pass_takes_sv(tiny_sovits_config: dict[str, Any]) -> None:
    torch.manual_seed(0)
    model = build_sovits(_tiny_pro(tiny_sovits_config, "v2ProPlus"), sv_input_dim=64).train()
    ssl, spec = torch.randn(2, 768, 20), torch.rand(2, 1025, 20)
    lengths, text = torch.tensor([20, 16]), torch.randint(0, 732, (2, 7))
    wav, *_ = model(ssl, spec, lengths, text, torch.tensor([7, 5]), sv_emb=torch.rand(2, 64))
    wav.abs().mean().backward()
    assert model.sv_emb.weight.grad is not None and model.sv_emb.weight.grad.abs().sum() > 0


def test_pro_file_without_sv_weights_is_refused(tmp_path: Path, next_golden_dir: Path) -> None:
    from GPT_SoVITS.checkpoints import CheckpointError, load_sovits, save_sovits

    ckpt = load_sovits(next(next_golden_dir.glob("models/SoVITS_weights_v2Pro/*.pth")))
    weight = {k: v for k, v in ckpt.weight.items() if not k.startswith("sv_emb.")}
    out = tmp_path / "cut.pth"
    save_sovits(out, weight, ckpt.config, ckpt.info, "v2Pro")
    with pytest.raises(CheckpointError, match=f"{out}.*without sv_emb"):
        load_sovits_model(out)
