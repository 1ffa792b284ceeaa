"""``python -m GPT_SoVITS.refselect`` as a subprocess: the library commands, bad input, and kill -9 resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.progress import read_progress
from GPT_SoVITS.refselect import library
from GPT_SoVITS.refselect.db import Library
from GPT_SoVITS.refselect.render import claim
from GPT_SoVITS.refselect.tasks import TaskSpec, create_task, task, task_folder
from tests.conftest import REPO_ROOT

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}


def cli(root: Path, *args: str | Path, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "GPT_SoVITS.refselect", "--root", str(root), *map(str, args)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=ENV, check=False
    )


def test_library_commands_and_bad_input(tmp_path: Path, speech_dir: Path, tiny_pair) -> None:
    root = tmp_path / "refs"
    assert cli(root, "role", "add", "alice", "--category", "narrators").returncode == 0
    done = cli(root, "import", "--role", "alice", "--list", speech_dir / "voice.list")
    assert done.returncode == 0 and "3 clip(s) added, 0 skipped" in done.stdout
    listing = cli(root, "role", "show", "alice").stdout.splitlines()
    assert len(listing) == 3 and "今天天气很好" in listing[0]
    done = cli(root, "split", "1", "--mode", "pauses", "--min-pause", "0.15")
    assert done.returncode == 0 and "transcript split by proportional-chars" in done.stdout
    # bad input: one line naming the file or field, exit 2
    done = cli(root, "import", "--role", "nobody", "--files", speech_dir / "a.wav")
    assert done.returncode == 2 and done.stderr.strip() == "error: role: unknown role 'nobody'"
    gone = tmp_path / "gone-e3.ckpt"
    args = ["task", "--clips", "1", "--gpt", gone, "--sovits", tiny_pair[1], "--sentence", "你好。"]
    done = cli(root, *args)
    assert done.returncode == 2 and f"{gone}: weights file not found" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = cli(root, "score", "99", "3")
    assert done.returncode == 2 and "unknown result 99" in done.stderr
    help_text = cli(root, "task", "--help").stdout
    assert "--temperature" in help_text and "temperature values to compare" in help_text


def wait_for(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
def test_kill_9_mid_task_then_resume(tmp_path: Path, speech_dir: Path, tiny_pair, hubert: Path) -> None:
    lib = Library(tmp_path / "refs")
    library.create_role(lib, "alice")
    clips = library.import_list(lib, "alice", speech_dir / "voice.list").added[:2]
    spec = TaskSpec(
        clips, [str(tiny_pair[0])], [str(tiny_pair[1])], ["今天天气很好。"], "zh",
        {"temperature": [0.6, 1.0], "top_k": [5, 15]}, {"seed": 2, "max_retries": 0},
    )  # fmt: skip
    task_id = create_task(lib, "kill", spec)
    run = ["run", "--task", str(task_id), "--no-bert", "--hubert", hubert, "--device", "cpu"]
    cmd = [sys.executable, "-m", "GPT_SoVITS.refselect", "--root", str(lib.root), *map(str, run)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: task(lib, task_id)["done"] >= 1 or proc.poll() is not None, 600, "a first result")
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        with pytest.raises(UserError, match="being rendered by process"):
            claim(lib, task_id)  # a second renderer is refused while the first lives
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    info = task(lib, task_id)
    assert info["state"] == "interrupted" and 1 <= info["done"] < info["total"] == 8
    assert lib.integrity() == "ok"
    done_before = info["done"]
    resumed = cli(lib.root, *run)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{8 - done_before} rendered, {done_before} already done" in resumed.stdout
    info = task(lib, task_id)
    assert (info["state"], info["done"]) == ("done", 8)
    counts = lib.one(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT item_id) AS items FROM results WHERE task_id = ?", (task_id,)
    )
    assert counts == {"n": 8, "items": 8}
    assert lib.integrity() == "ok"
    wavs = sorted(p.name for p in task_folder(lib, task_id).glob("*.wav"))
    assert wavs == [f"{i:05d}.wav" for i in range(8)]  # no stray temp files, one per item
    starts = [e for e in read_progress(task_folder(lib, task_id)) if e["event"] == "start"]
    assert [s["done"] for s in starts] == [0, done_before]
