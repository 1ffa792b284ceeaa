"""The ``gpt`` parity group on the shared golden folder (official logits and decodings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from GPT_SoVITS.parity.gpt import run


def test_gpt_parity_group_passes(golden_dir: Path) -> None:
    rows = run(golden_dir, "gpt")
    failed = [r.row() for r in rows if not r.ok]
    assert not failed, "\n".join(failed)
    cases = {r.case for r in rows}
    assert {"logits", "logits_fast_path", "logits_training_slice"} <= cases
    assert sum(c.endswith(".y") for c in cases) >= 16  # every single-item decoding entry was compared


@pytest.mark.slow
def test_parity_cli_gpt_group(golden_dir: Path) -> None:
    cmd = [sys.executable, "-m", "GPT_SoVITS.parity", "--golden", str(golden_dir), "--only", "gpt"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    passed, total = last.split()[0].split("/")
    assert passed == total and int(total) > 20
