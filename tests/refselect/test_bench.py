"""bench/refselect.py runs end to end on a tiny workload and prints its ratio (no timing is asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_bench_refselect_prints_items_per_minute_and_the_ratio() -> None:
    args = ["--refs", "1", "--temps", "2", "--sentences", "1", "--baseline-items", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "bench.refselect", *args]
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    task = re.search(r"comparison task :\s+([\d.]+) items/min \(([\d.]+) s for 2 items", done.stdout)
    one = re.search(r"one CLI per item:\s+([\d.]+) items/min \(([\d.]+) s for 1 items", done.stdout)
    ratio = re.search(r"ratio task / one-at-a-time = ([\d.]+)x", done.stdout)
    assert task and one and ratio, done.stdout
    assert float(ratio[1]) == pytest.approx(float(task[1]) / float(one[1]), rel=0.02, abs=0.01)
