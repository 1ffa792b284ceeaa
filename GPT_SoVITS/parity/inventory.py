"""Parity group ``inventory``: our models' state-dict keys, shapes and dtypes equal the official inventories.

Inventories are searched in the ``inventory/`` folders beside the golden folder and one level up (the
``next`` set keeps the SV/vocoder inventories in ``next/inventory`` and refers to ``parity/inventory`` for
SoVITS and GPT). Every model is built on the meta device from the inventory's own config (or, for the SV
model, from the sizes read off its shapes), so full-size models cost no memory. Covered: SoVITS of
v1/v2/v2Pro/v2ProPlus, GPT of every version, the SV model. Each inventory is one case; an inventory of a
model this group does not build is not listed (the v3/v4 SoVITS and vocoders belong to their own module).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from GPT_SoVITS.models.gpt import build_gpt
from GPT_SoVITS.models.sovits import build_sovits
from GPT_SoVITS.models.sv import ERes2NetV2, Eres2NetV2Config
from GPT_SoVITS.parity.core import CaseResult, failure

SOVITS_VERSIONS = ("v1", "v2", "v2Pro", "v2ProPlus")
Layout = list[tuple[str, list[int], str]]


def inventory_dirs(golden: Path) -> list[Path]:
    candidates = [golden.parent / "inventory", golden.parent.parent / "inventory"]
    return [d for d in dict.fromkeys(c.resolve() for c in candidates) if d.is_dir()]


def _layout(sd: Mapping[str, torch.Tensor], dtype_of: Callable[[torch.Tensor], torch.dtype]) -> Layout:
    return [(k, list(v.shape), str(dtype_of(v)).removeprefix("torch.")) for k, v in sd.items()]


def _half(t: torch.Tensor) -> torch.dtype:  # the exporters write every tensor .half()
    return torch.float16


def sovits_layout(inv: Mapping[str, Any]) -> Layout:
    with torch.device("meta"):
        model = build_sovits(inv["config"])
    return [row for row in _layout(model.state_dict(), _half) if "enc_q" not in row[0]]


def gpt_layout(inv: Mapping[str, Any]) -> Layout:
    with torch.device("meta"):
        model = build_gpt(inv["config"])
    return [(f"model.{k}", s, d) for k, s, d in _layout(model.state_dict(), _half)]


def sv_layout(inv: Mapping[str, Any]) -> Layout:
    shapes = {k: torch.empty(s, device="meta") for k, (s, _d) in inv["state_dict"].items()}
    with torch.device("meta"):
        model = ERes2NetV2(Eres2NetV2Config.from_state_dict(shapes))
    return _layout(model.state_dict(), lambda t: t.dtype)


def _builder(name: str, inv: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Layout] | None:
    if name.endswith("_sovits.json"):
        version = str(inv.get("config", {}).get("model", {}).get("version", ""))
        return sovits_layout if version in SOVITS_VERSIONS else None
    if name.endswith("_gpt.json"):
        return gpt_layout
    if "ERes2NetV2" in str(inv.get("model", "")):
        return sv_layout
    return None


def compare_layout(case: str, ours: Layout, expected: Layout) -> CaseResult:
    if ours == expected:
        return CaseResult("inventory", case, 0.0, 0.0, True, f"{len(ours)} tensors")
    mismatches = sum(a != b for a, b in zip(ours, expected, strict=False)) + abs(len(ours) - len(expected))
    first = next(((a, b) for a, b in zip(ours, expected, strict=False) if a != b), None)
    note = f"first difference ours={first[0]} official={first[1]}" if first else "lengths differ"
    return CaseResult(
        "inventory", case, float(mismatches), 0.0, False, f"{len(ours)} vs {len(expected)}; {note}"
    )


def run(golden: Path, group: str) -> list[CaseResult]:
    dirs = inventory_dirs(golden)
    if not dirs:
        return [failure(group, "*", f"no inventory/ folder beside {golden}")]
    results = []
    for path in sorted(p for d in dirs for p in d.glob("*.json")):
        inv = json.loads(path.read_text(encoding="utf-8"))
        build = _builder(path.name, inv)
        if build is None:
            continue
        expected = [(k, list(s), d) for k, (s, d) in inv["state_dict"].items()]
        try:
            results.append(compare_layout(path.name, build(inv), expected))
        except (KeyError, ValueError, TypeError) as e:
            results.append(
                failure(group, path.name, f"cannot build from the inventory: {type(e).__name__}: {e}")
            )
    return results or [failure(group, "*", f"no inventory this group builds in {', '.join(map(str, dirs))}")]
