"""v3/v4 models built with the official sizes have the official state-dict keys, shapes and dtypes.

Built on the meta device (the full DiT has ~337 M parameters): only shapes are materialised.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3
from GPT_SoVITS.models.v3v4.load import build_v3v4, merge_lora, sizes_from_state_dict
from GPT_SoVITS.models.vocoder import BigVGAN, BigVGANConfig, V4VocoderConfig, build_v4_vocoder


def _shapes(module: torch.nn.Module) -> dict[str, list]:
    return {k: [list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in module.state_dict().items()}


def _inventory(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _official_v3v4(inventory_dir: Path, version: str) -> tuple[SynthesizerTrnV3, dict]:
    inv = _inventory(inventory_dir / f"{version}_sovits.json")
    base = inv["file_format"]["base_model_state_dict"]
    m = inv["config"]["model"]
    with torch.device("meta"):
        model = SynthesizerTrnV3(
            m["inter_channels"], m["hidden_channels"], m["filter_channels"], m["n_heads"], m["n_layers"],
            m["kernel_size"], m["p_dropout"], m["gin_channels"], version=version,
        )  # fmt: skip
    return model, inv | {"base": base}


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_synthesizer_v3_matches_the_official_base_inventory(inventory_dir: Path, version: str) -> None:
    model, inv = _official_v3v4(inventory_dir, version)
    ours = _shapes(model)
    assert list(ours) == list(inv["base"])  # same keys in the same order
    assert ours == inv["base"]


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_sizes_read_back_from_the_official_shapes(inventory_dir: Path, version: str) -> None:
    """Every hard-wired size (DiT, wns1) is recovered from the inventory's shapes alone."""
    model, inv = _official_v3v4(inventory_dir, version)
    sd = {k: torch.empty(shape, device="meta") for k, (shape, _dtype) in inv["base"].items()}
    assert sizes_from_state_dict(sd) == model.sizes
    with torch.device("meta"):
        rebuilt = build_v3v4(inv["config"], version, sd)
    assert _shapes(rebuilt) == inv["base"]


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_official_lora_file_layout_merges_onto_the_base_keys(inventory_dir: Path, version: str) -> None:
    """A LoRA file with the official keys (rank 32) merges into exactly the base's keys."""
    _model, inv = _official_v3v4(inventory_dir, version)
    base = {k: torch.zeros(shape, device="meta") for k, (shape, _d) in inv["base"].items()}
    lora = {k: torch.zeros(shape, device="meta") for k, (shape, _d) in inv["state_dict"].items()}
    assert {str(v[1]) for v in inv["state_dict"].values()} == {"float16"}
    merged = merge_lora(base, lora, rank=int(inv["file_format"]["observed"]["lora_rank"]))
    assert list(merged) == list(base)
    assert all(merged[k].shape == base[k].shape for k in base)


def test_bigvgan_matches_the_official_inventory(next_inventory_dir: Path) -> None:
    inv = _inventory(next_inventory_dir / "bigvgan_v2_24khz_100band_256x.json")
    cfg = BigVGANConfig.from_json(inv["config_architecture_fields"])
    assert cfg.upsample_initial_channel == 1536 and cfg.hop == 256
    with torch.device("meta"):
        model = BigVGAN(cfg)
    assert _shapes(model) == inv["state_dict_with_weight_norm"]
    model.remove_weight_norm()
    assert _shapes(model) == inv["state_dict_after_remove_weight_norm"]


def test_v4_vocoder_matches_the_official_inventory(next_inventory_dir: Path) -> None:
    inv = _inventory(next_inventory_dir / "v4_vocoder.json")
    with torch.device("meta"):
        model = build_v4_vocoder(V4VocoderConfig())
    assert _shapes(model) == inv["state_dict"]
    sd = {k: torch.empty(shape, device="meta") for k, (shape, _d) in inv["state_dict"].items()}
    assert V4VocoderConfig.from_state_dict(sd) == V4VocoderConfig()
    assert V4VocoderConfig().hop == 480
