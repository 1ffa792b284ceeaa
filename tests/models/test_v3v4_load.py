"""Loading the golden v3/v4 files: bases, LoRA merges, vocoders, and the errors for missing/wrong files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from GPT_SoVITS.checkpoints import CheckpointError, load_sovits
from GPT_SoVITS.models.v3v4.load import VocoderError, load_v3v4_sovits, load_vocoder
from GPT_SoVITS.models.vocoder import BigVGAN

BIGVGAN = "models--nvidia--bigvgan_v2_24khz_100band_256x"
LORA = {
    "v3": "SoVITS_weights_v3/parity_pub_v3_lora_e3_s60_l32.pth",
    "v4": "SoVITS_weights_v4/parity_pub_v4_lora_e3_s60_l32.pth",
}


@pytest.fixture(scope="module")
def models_dir(next_golden_dir: Path) -> Path:
    return next_golden_dir / "models"


def test_base_file_loads_with_every_weight_from_the_file(models_dir: Path) -> None:
    path = models_dir / "pretrained_models" / "gsv-v4-pretrained" / "s2Gv4.pth"
    model = load_v3v4_sovits(path, "v4", is_lora=False)
    weight = load_sovits(path).weight
    sd = model.state_dict()
    assert list(sd) == list(weight)
    assert all(torch.equal(sd[k], weight[k].float()) for k in weight)
    assert model.sizes.dit.dim == 128 and model.sizes.dit.depth == 2 and model.sizes.wns1_layers == 1


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_lora_file_is_merged_onto_its_base(models_dir: Path, next_golden_dir: Path, version: str) -> None:
    pretrained = models_dir / "pretrained_models"
    lora = load_sovits(models_dir / LORA[version])
    assert lora.is_lora and lora.lora_rank == 32
    model = load_v3v4_sovits(lora, version, is_lora=True, pretrained_dir=pretrained)
    sd = model.state_dict()
    golden = np.load(next_golden_dir / f"{version}_lora_merged_weights.npz")
    for key in golden.files:
        np.testing.assert_array_equal(sd[key].numpy(), golden[key])
    # the fine-tuned non-DiT parts come from the LoRA file, the frozen content encoder from the base
    assert torch.equal(sd["bridge.0.weight"], lora.weight["bridge.0.weight"].float())
    base = load_sovits(pretrained / ("s2Gv3.pth" if version == "v3" else "gsv-v4-pretrained/s2Gv4.pth"))
    assert not torch.equal(sd["bridge.0.weight"], base.weight["bridge.0.weight"].float())
    assert torch.equal(sd["enc_p.proj.weight"], base.weight["enc_p.proj.weight"].float())


def test_lora_without_its_base_names_both_files(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as e:
        load_v3v4_sovits(models_dir / LORA["v4"], "v4", is_lora=True, pretrained_dir=tmp_path)
    message = str(e.value)
    assert "parity_pub_v4_lora_e3_s60_l32.pth" in message and "s2Gv4.pth" in message and "\n" not in message


def test_lora_onto_a_base_that_is_no_v3v4_model(models_dir: Path, next_golden_dir: Path) -> None:
    not_a_base = next_golden_dir / "models" / "SoVITS_weights_v2Pro" / "parity_pub_v2Pro_e4_s96.pth"
    with pytest.raises(CheckpointError, match="not a v3 base model"):
        load_v3v4_sovits(models_dir / LORA["v3"], "v3", is_lora=True, base_path=not_a_base)


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_vocoders_load_and_turn_mels_into_audio(models_dir: Path, version: str) -> None:
    vocoder, spec = load_vocoder(version, models_dir / "pretrained_models")
    assert not any(k.endswith(("weight_g", "weight_v")) for k in vocoder.state_dict())  # weight norm folded
    mel = torch.randn(1, 100, 7) - 4
    with torch.no_grad():
        audio = vocoder(mel)
    assert audio.shape == (1, 1, 7 * spec.hop)
    assert float(audio.abs().max()) <= 1.0 and float(audio.std()) > 0
    assert isinstance(vocoder, BigVGAN) == (version == "v3")


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_missing_vocoder_is_a_one_line_error_naming_the_path(tmp_path: Path, version: str) -> None:
    with pytest.raises(VocoderError) as e:
        load_vocoder(version, tmp_path)
    assert str(tmp_path) in str(e.value) and "vocoder" in str(e.value) and "\n" not in str(e.value)


def test_vocoder_of_the_wrong_kind(models_dir: Path, tmp_path: Path) -> None:
    pretrained = models_dir / "pretrained_models"
    v4_file = pretrained / "gsv-v4-pretrained" / "vocoder.pth"
    bigvgan_pt = pretrained / BIGVGAN / "bigvgan_generator.pt"
    with pytest.raises(VocoderError, match="BigVGAN checkpoint"):
        load_vocoder("v4", path=bigvgan_pt)  # a BigVGAN where the v4 vocoder belongs
    with pytest.raises(VocoderError, match="BigVGAN folder"):
        load_vocoder("v3", path=v4_file)  # a file where the BigVGAN folder belongs
    folder = tmp_path / BIGVGAN
    folder.mkdir()
    shutil.copy(pretrained / BIGVGAN / "config.json", folder / "config.json")
    shutil.copy(v4_file, folder / "bigvgan_generator.pt")  # the v4 state dict under BigVGAN's name
    with pytest.raises(VocoderError, match=r"bigvgan_generator\.pt"):
        load_vocoder("v3", tmp_path)


def test_default_locations_are_the_files_the_models_tab_lists() -> None:
    from GPT_SoVITS.models.v3v4.load import BASE_FILES, BIGVGAN_DIR, V4_VOCODER_FILE
    from GPT_SoVITS.webui.pretrained import VERSIONS

    for version in ("v3", "v4"):
        assert BASE_FILES[version].as_posix() == VERSIONS[version].sovits_g
    assert V4_VOCODER_FILE.as_posix() in VERSIONS["v4"].extra
    assert {(BIGVGAN_DIR / f).as_posix() for f in ("config.json", "bigvgan_generator.pt")} <= set(
        VERSIONS["v3"].extra
    )
