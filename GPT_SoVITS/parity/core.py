"""Shared pieces of the parity runner: result rows, comparisons, and the group table.

A group module exposes ``run(golden: Path, group: str) -> list[CaseResult]``. Everything a group needs
(models, configs, inputs) is read from the golden folder, so the runner works on any folder of the same
layout.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from GPT_SoVITS.checkpoints import Checkpoint, CheckpointError, load_checkpoint

# group name -> module that implements it
GROUP_MODULES: dict[str, str] = {
    "spectrogram": "GPT_SoVITS.parity.spectrogram",
    "latent": "GPT_SoVITS.parity.sovits",
    "decode": "GPT_SoVITS.parity.sovits",
    "gpt": "GPT_SoVITS.parity.gpt",
    "cut": "GPT_SoVITS.parity.cut",
    "frontend": "GPT_SoVITS.parity.frontend",
    "slicer": "GPT_SoVITS.parity.slicer",
    "v3v4": "GPT_SoVITS.parity.v3v4",
    # v2Pro/v2ProPlus/v3/v4 layout (shared/parity/next/golden)
    "detect": "GPT_SoVITS.parity.detect",
    "sv": "GPT_SoVITS.parity.pro",
    "pro": "GPT_SoVITS.parity.pro",
    "inventory": "GPT_SoVITS.parity.inventory",
}

# Groups of the v2Pro/v2ProPlus/v3/v4 golden layout (shared/parity/next/golden), recognised by its marker
# file. A run without --only runs the groups of the folder's layout; a missing file inside a layout fails.
NEXT_LAYOUT_MARKER = "version_detection.json"
NEXT_LAYOUT_GROUPS: tuple[str, ...] = ("detect", "sv", "pro", "inventory", "v3v4")


def default_groups(golden: Path) -> list[str]:
    """The groups of the golden folder's layout (v1/v2 set or the ``next`` set)."""
    if (golden / NEXT_LAYOUT_MARKER).exists():
        return [g for g in GROUP_MODULES if g in NEXT_LAYOUT_GROUPS]
    return [g for g in GROUP_MODULES if g not in NEXT_LAYOUT_GROUPS]


@dataclass(frozen=True)
class CaseResult:
    group: str
    case: str
    error: float  # max abs error for arrays, number of mismatches for exact comparisons
    tolerance: float
    ok: bool
    note: str = ""

    def row(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        text = f"{self.group} | {self.case} | {self.error:.3g} | {self.tolerance:.3g} | {verdict}"
        return f"{text} | {self.note}" if self.note else text


def failure(group: str, case: str, reason: str) -> CaseResult:
    """A case that could not be run counts as failed, with the reason in the row."""
    return CaseResult(group, case, float("inf"), 0.0, False, reason)


def compare_arrays(group: str, case: str, ours: np.ndarray, golden: np.ndarray, tol: float) -> CaseResult:
    """Max absolute difference; shapes must agree exactly."""
    ours = np.asarray(ours)
    golden = np.asarray(golden)
    if ours.shape != golden.shape:
        return failure(group, case, f"shape {list(ours.shape)} != golden {list(golden.shape)}")
    if ours.size == 0:
        return CaseResult(group, case, 0.0, tol, True)
    err = float(np.max(np.abs(ours.astype(np.float64) - golden.astype(np.float64))))
    return CaseResult(group, case, err, tol, bool(err <= tol))


def compare_exact(group: str, case: str, ours: object, golden: object, note: str = "") -> CaseResult:
    """Exact equality of token sequences, strings or JSON-like values; error = mismatching items."""
    if isinstance(ours, Sequence) and isinstance(golden, Sequence) and not isinstance(ours, str):
        ours_l, golden_l = list(ours), list(golden)
        mismatches = sum(a != b for a, b in zip(ours_l, golden_l, strict=False)) + abs(
            len(ours_l) - len(golden_l)
        )
    else:
        mismatches = int(ours != golden)
    ok = mismatches == 0
    if not ok and not note:
        note = f"ours={_short(ours)} golden={_short(golden)}"
    return CaseResult(group, case, float(mismatches), 0.0, ok, note)


def _short(value: object, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def find_model(golden: Path, kind: str) -> Checkpoint:
    """The one checkpoint of ``kind`` ("gpt" | "sovits") under ``golden/models``, found by content."""
    found = []
    for path in sorted((golden / "models").glob("*")):
        if path.suffix in (".ckpt", ".pth"):
            try:
                ckpt = load_checkpoint(path)
            except CheckpointError:
                continue
            if ckpt.kind == kind:
                found.append(ckpt)
    if len(found) != 1:
        raise FileNotFoundError(f"expected one {kind} checkpoint in {golden / 'models'}, found {len(found)}")
    return found[0]


def run_group(golden: Path, group: str) -> list[CaseResult]:
    """Run one group; a missing implementation or a crash is reported as a failed case, never skipped."""
    module_name = GROUP_MODULES[group]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            return [failure(group, "*", f"group not implemented yet ({module_name} missing)")]
        raise
    try:
        return module.run(golden, group)
    except FileNotFoundError as e:
        return [failure(group, "*", f"golden file missing: {e.filename or e}")]
    except Exception as e:  # a crash in one group must not hide the others' rows
        return [failure(group, "*", f"{type(e).__name__}: {e}")]
