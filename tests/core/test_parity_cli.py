"""The parity runner's contract: rows, the closing count, exit codes, failures that are never skips."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def run_parity(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "GPT_SoVITS.parity", *args], capture_output=True, text=True, check=False
    )


def test_spectrogram_group_passes(golden_dir: Path) -> None:
    run = run_parity("--golden", str(golden_dir), "--only", "spectrogram")
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [r for r in run.stdout.splitlines() if r.startswith("spectrogram |")]
    assert len(rows) >= 4 and all(r.split(" | ")[4] == "ok" for r in rows)
    assert run.stdout.strip().splitlines()[-1] == f"{len(rows)}/{len(rows)} cases pass"


def test_missing_golden_file_fails_not_skips(tmp_path: Path, golden_dir: Path) -> None:
    # A copy of the folder without the spectrogram data: the group must fail with a reason.
    shutil.copytree(golden_dir / "models", tmp_path / "models")
    run = run_parity("--golden", str(tmp_path), "--only", "spectrogram")
    assert run.returncode == 1
    assert "FAIL" in run.stdout and "spectrogram.npz" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "0/1 cases pass"


def test_bad_arguments(tmp_path: Path) -> None:
    assert run_parity("--golden", str(tmp_path / "none")).returncode == 2
    assert run_parity("--golden", str(tmp_path), "--only", "nonsense").returncode == 2
