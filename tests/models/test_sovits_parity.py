"""The SoVITS parity groups reproduce the official goldens (codes exactly, audio within 1e-4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from GPT_SoVITS.parity import sovits
from GPT_SoVITS.parity.core import CaseResult

REPO_ROOT = Path(__file__).resolve().parents[2]


def _check(results: list[CaseResult]) -> None:
    assert results
    failed = [r.row() for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_golden_sovits_model_is_found(golden_dir: Path) -> None:
    path = sovits.find_sovits_model(golden_dir)
    assert path.parent == golden_dir / "models" and path.suffix == ".pth"


def test_latent_group(golden_dir: Path) -> None:
    results = sovits.run(golden_dir, "latent")
    _check(results)
    assert {r.case for r in results} >= {"codes_0", "codes_1"}
    assert all(r.error == 0 for r in results)


@pytest.mark.slow
def test_decode_group_through_the_cli(golden_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "GPT_SoVITS.parity", "--golden", str(golden_dir), "--only", "latent,decode"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("decode | ")]
    # every case of the json: the waveform row plus one row per recorded intermediate
    assert sum(" | " in r and "." not in r.split(" | ")[1] for r in rows) >= 6
    assert proc.stdout.strip().splitlines()[-1].endswith("cases pass")


def test_decode_group_fails_on_a_tampered_golden(golden_dir: Path, tmp_path: Path) -> None:
    """A decode golden that differs must be reported as failing (the comparison can fail)."""
    import json

    import numpy as np

    cases = json.loads((golden_dir / sovits.CASES_FILE).read_text(encoding="utf-8"))
    name = next(iter(cases))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.pth").symlink_to(sovits.find_sovits_model(golden_dir))
    (tmp_path / sovits.CASES_FILE).write_text(json.dumps({name: cases[name]}), encoding="utf-8")
    refs = cases[name]["refs_file"]
    (tmp_path / refs).symlink_to(golden_dir / refs)
    data = dict(np.load(golden_dir / f"sovits_decode_{name}.npz"))
    data["wav"] = data["wav"] + 1e-3
    np.savez(tmp_path / f"sovits_decode_{name}.npz", **data)
    results = sovits.run(tmp_path, "decode")
    by_case = {r.case: r for r in results}
    assert not by_case[name].ok and by_case[name].error == pytest.approx(1e-3, rel=1e-2)
    assert by_case[f"{name}.dec_in"].ok  # intermediates untouched
