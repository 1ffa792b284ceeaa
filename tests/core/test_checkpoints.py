"""Official checkpoint containers: reading the golden files, writing files with the official container
facts of every inventory, version detection, and refusing bad or malicious files."""

from __future__ import annotations

import io
import json
import os
import pickletools
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from GPT_SoVITS.checkpoints import (
    AttrDict,
    CheckpointError,
    load_checkpoint,
    load_gpt,
    load_sovits,
    save_gpt,
    save_sovits,
)
from GPT_SoVITS.parity.core import find_model
from GPT_SoVITS.versions import ModelVersion

VERSIONS = ["v1", "v2", "v2Pro", "v2ProPlus", "v3", "v4"]


def pickle_facts(path: Path) -> tuple[list[str], int]:
    """(sorted pickle globals, protocol) of the data.pkl inside a checkpoint (header bytes restored)."""
    data = path.read_bytes()
    data = b"PK" + data[2:]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        member = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        out = io.StringIO()
        pickletools.dis(zf.read(member), out=out)
    text = out.getvalue()
    found = {g.replace(" ", ".") for g in re.findall(r"GLOBAL\s+'([^']+)'", text)}
    return sorted(found), int(re.search(r"PROTO\s+(\d+)", text).group(1))


def inventory(inventory_dir: Path, version: str, kind: str) -> dict:
    return json.loads((inventory_dir / f"{version}_{kind}.json").read_text())


def test_golden_models_load(golden_dir: Path) -> None:
    gpt = find_model(golden_dir, "gpt")
    sovits = find_model(golden_dir, "sovits")
    report = json.loads((golden_dir / "models" / "load_report.json").read_text())
    assert gpt.info == report["gpt_info"] and sovits.info == report["sovits_info"]
    assert sovits.symbol_version == report["sovits_detection"]["symbol_version"]
    assert (
        isinstance(sovits.config, AttrDict)
        and sovits.config.model.version == sovits.config["model"]["version"]
    )
    assert sovits.config["model"] == report["sovits_config"]["model"]
    assert gpt.config == report["gpt_config"]
    assert {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in gpt.weight.items()} == report[
        "gpt_state_dict"
    ]
    assert list(sovits.weight) == list(report["sovits_state_dict"])


@pytest.mark.parametrize("version", VERSIONS)
def test_written_sovits_has_official_container(
    tmp_path: Path, golden_dir: Path, inventory_dir: Path, version: str
):
    inv = inventory(inventory_dir, version, "sovits")
    observed = inv["file_format"]["observed"]
    weight = find_model(golden_dir, "sovits").weight
    weight = {**weight, "enc_q.pre.weight": torch.zeros(2, 2)}  # training-only keys must be dropped
    rows = inv["state_dict"].get("enc_p.text_embedding.weight", [[732]])[0][0]
    weight["enc_p.text_embedding.weight"] = torch.zeros(rows, 192)  # the symbol table of this version
    lora = int(inv["config"]["train"]["lora_rank"]) if "lora_rank" in observed["top_level_keys"] else None
    out = tmp_path / "x.pth"
    save_sovits(out, weight, inv["config"], "8epoch_200iteration", version, lora_rank=lora)
    assert out.read_bytes()[:2].decode() == observed["first_two_bytes"]
    globals_, protocol = pickle_facts(out)
    assert globals_ == sorted(observed["pickle_globals"]) and protocol == observed["pickle_protocol"]
    back = load_sovits(out)
    assert back.version == ModelVersion(version)
    assert back.is_lora == (lora is not None) and back.lora_rank == lora
    assert not any("enc_q" in k for k in back.weight)
    assert {str(t.dtype) for t in back.weight.values()} == set(observed["weight_dtypes"])
    assert back.config == inv["config"]
    raw = torch.load(io.BytesIO(b"PK" + out.read_bytes()[2:]), weights_only=False, pickle_module=_FakeUtils)
    assert list(raw) == observed["top_level_keys"]


class _FakeUtils:
    """Stands in for the official ``utils.HParams`` to read our file as the official loader does."""

    class HParams:
        pass

    class Unpickler(__import__("pickle").Unpickler):
        def find_class(self, module: str, name: str):
            if (module, name) == ("utils", "HParams"):
                return _FakeUtils.HParams
            return super().find_class(module, name)

    load = __import__("pickle").load


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_written_gpt_has_official_container(
    tmp_path: Path, golden_dir: Path, inventory_dir: Path, version: str
):
    inv = inventory(inventory_dir, version, "gpt")
    observed = inv["file_format"]["observed"]
    gpt = find_model(golden_dir, "gpt")
    stripped = {k.removeprefix("model."): v.float() for k, v in gpt.weight.items()}
    out = tmp_path / "g.ckpt"
    save_gpt(out, stripped, inv["config"], "GPT-e5")
    assert out.read_bytes()[:2] == b"PK"
    assert pickle_facts(out) == (sorted(observed["pickle_globals"]), observed["pickle_protocol"])
    raw = torch.load(out, weights_only=True)  # the official loader's view: plain containers only
    assert list(raw) == observed["top_level_keys"] and raw["info"] == "GPT-e5"
    assert all(k.startswith("model.") and v.dtype == torch.float16 for k, v in raw["weight"].items())
    assert torch.equal(raw["weight"]["model.bert_proj.weight"], gpt.weight["model.bert_proj.weight"])


def test_wrong_kind_is_refused(golden_dir: Path) -> None:
    gpt_path = find_model(golden_dir, "gpt").path
    sovits_path = find_model(golden_dir, "sovits").path
    with pytest.raises(CheckpointError, match=r"GPT \(.ckpt\) checkpoint, expected SoVITS") as e:
        load_sovits(gpt_path)
    assert str(gpt_path) in str(e.value)
    with pytest.raises(CheckpointError, match=r"SoVITS \(.pth\) checkpoint, expected GPT"):
        load_gpt(sovits_path)


def test_truncated_file(tmp_path: Path, golden_dir: Path) -> None:
    data = find_model(golden_dir, "gpt").path.read_bytes()
    bad = tmp_path / "cut.ckpt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.ckpt"):
        load_checkpoint(bad)


def test_zip_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pth"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("notes/readme.txt", "hello")
    with pytest.raises(CheckpointError, match=r"without data\.pkl"):
        load_checkpoint(bad)


def test_unknown_header(tmp_path: Path, golden_dir: Path) -> None:
    bad = tmp_path / "odd.pth"
    bad.write_bytes(b"09" + find_model(golden_dir, "sovits").path.read_bytes()[2:])
    with pytest.raises(CheckpointError, match="unknown version header"):
        load_checkpoint(bad)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_a_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pth"
    torch.save({"weight": {"enc_p.x": torch.zeros(1)}, "config": _Evil(marker), "info": ""}, bad)
    with pytest.raises(
        CheckpointError, match=r"refused to load: the file references (os|posix)\.system"
    ) as e:
        load_checkpoint(bad)
    assert "evil.pth" in str(e.value)
    assert not marker.exists()


def test_not_a_state_dict(tmp_path: Path) -> None:
    bad = tmp_path / "other.ckpt"
    torch.save({"weight": {"encoder.layer.0": torch.zeros(1)}, "config": {}}, bad)
    with pytest.raises(CheckpointError, match="neither a GPT"):
        load_checkpoint(bad)


def test_inspect_cli(tmp_path: Path, golden_dir: Path) -> None:
    gpt = find_model(golden_dir, "gpt").path
    sovits = find_model(golden_dir, "sovits").path
    run = subprocess.run(
        [sys.executable, "-m", "GPT_SoVITS.checkpoints", "inspect", str(gpt), str(sovits)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "kind: gpt" in run.stdout and "kind: sovits" in run.stdout and "symbol set: v2" in run.stdout
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage!")
    run = subprocess.run(
        [sys.executable, "-m", "GPT_SoVITS.checkpoints", "inspect", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "bad.pth" in run.stderr
