"""The frontend parity group through the runner CLI (as CI runs it)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_parity_cli_cut_and_frontend(golden_dir):
    out = subprocess.run(
        [sys.executable, "-m", "GPT_SoVITS.parity", "--golden", str(golden_dir), "--only", "cut,frontend"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "FAIL" not in out.stdout


def test_frontend_golden_rows_pass(golden_dir):
    from GPT_SoVITS.parity.frontend import run

    rows = run(golden_dir)
    failed = [r.row() for r in rows if not r.ok]
    assert len(rows) >= 8 and not failed, failed[:5]
