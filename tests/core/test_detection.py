"""Version detection from the file alone: the official fast rule (MD5, header, size) and our content rule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from GPT_SoVITS import versions
from GPT_SoVITS.checkpoints import (
    CheckpointError,
    load_checkpoint,
    md5_prefix,
    save_sovits,
    sniff_sovits_version,
)
from GPT_SoVITS.parity.detect import run as run_detect
from GPT_SoVITS.versions import ModelVersion


def test_detect_group_reproduces_the_golden(next_golden_dir: Path) -> None:
    rows = run_detect(next_golden_dir, "detect")
    table = json.loads((next_golden_dir / "version_detection.json").read_text())
    assert len(rows) == len(table["files"])
    assert all(r.ok for r in rows), [r.row() for r in rows if not r.ok]
    # the small v3/v4 bases: the official rule says v1 by size, our loader reads the content
    notes = {r.case: r.note for r in rows}
    assert "reads sovits v3" in notes["models/pretrained_models/s2Gv3.pth"]
    assert "reads sovits v4" in notes["models/pretrained_models/gsv-v4-pretrained/s2Gv4.pth"]


def test_headers_of_written_files(tmp_path: Path) -> None:
    weight = {"enc_p.text_embedding.weight": torch.zeros(732, 4), "dec.conv_pre.weight": torch.zeros(2, 2, 7)}
    config = {"model": {"version": "v2"}, "data": {}}
    for version, lora, expected in [
        ("v2Pro", None, ["v2", "v2Pro", False]),
        ("v2ProPlus", None, ["v2", "v2ProPlus", False]),
        ("v3", 16, ["v2", "v3", True]),
        ("v4", 32, ["v2", "v4", True]),
        ("v1", None, ["v1", "v1", False]),  # plain zip, small: the size rule
    ]:
        out = tmp_path / f"{version}.pth"
        save_sovits(out, weight, config, "info", version, lora_rank=lora)
        found = sniff_sovits_version(out)
        assert found.as_official() == expected, version
        assert found.rule == ("size" if version == "v1" else "header")


def test_released_file_found_by_md5(tmp_path: Path, next_golden_dir: Path, monkeypatch) -> None:
    # as the official table recognises the released bases (the golden harness added the small base's MD5)
    base = next_golden_dir / "models/pretrained_models/gsv-v4-pretrained/s2Gv4.pth"
    copy = tmp_path / "s2Gv4.pth"
    shutil.copyfile(base, copy)
    table = dict(versions.RELEASED_SOVITS_MD5)
    table[md5_prefix(copy)] = ("v2", ModelVersion.V4, False)
    monkeypatch.setattr("GPT_SoVITS.detection.RELEASED_SOVITS_MD5", table)
    found = sniff_sovits_version(copy)
    assert (found.as_official(), found.rule) == (["v2", "v4", False], "md5")


def test_content_rule_for_plain_files(tmp_path: Path, next_golden_dir: Path) -> None:
    models = next_golden_dir / "models"
    assert load_checkpoint(models / "pretrained_models/s2Gv3.pth").version == ModelVersion.V3
    assert (
        load_checkpoint(models / "pretrained_models/gsv-v4-pretrained/s2Gv4.pth").version == ModelVersion.V4
    )
    # Pro weights re-saved as a plain zip without a version in the config: sv_emb + first kernel decide
    for name, expected in [("v2Pro", ModelVersion.V2PRO), ("v2ProPlus", ModelVersion.V2PROPLUS)]:
        ckpt = load_checkpoint(next(models.glob(f"SoVITS_weights_{name}/*.pth")))
        out = tmp_path / f"{name}_plain.pth"
        save_sovits(out, ckpt.weight, {"model": {}, "data": {}}, "info", "v2")
        assert sniff_sovits_version(out).version == ModelVersion.V1  # the official size rule
        back = load_checkpoint(out)
        assert (back.version, back.symbol_version, back.is_lora) == (expected, "v2", False)


def test_lora_flag_and_unknown_header(tmp_path: Path, next_golden_dir: Path) -> None:
    lora = load_checkpoint(next(next_golden_dir.glob("models/SoVITS_weights_v3/*.pth")))
    assert lora.is_lora and lora.lora_rank == 32
    bad = tmp_path / "x.pth"
    bad.write_bytes(b"07" + b"\0" * 100)
    with pytest.raises(CheckpointError, match="unknown version header"):
        sniff_sovits_version(bad)
    with pytest.raises(CheckpointError, match="file not found"):
        sniff_sovits_version(tmp_path / "missing.pth")


def test_runner_picks_the_groups_of_the_golden_layout(golden_dir: Path, next_golden_dir: Path) -> None:
    from GPT_SoVITS.parity.core import GROUP_MODULES, NEXT_LAYOUT_GROUPS, default_groups

    assert default_groups(next_golden_dir) == [g for g in GROUP_MODULES if g in NEXT_LAYOUT_GROUPS]
    assert {"detect", "sv", "pro", "inventory"} <= set(default_groups(next_golden_dir))
    old = default_groups(golden_dir)
    assert "decode" in old and "gpt" in old and not set(old) & set(NEXT_LAYOUT_GROUPS)
