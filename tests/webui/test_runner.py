"""JobRunner on real subprocesses: small stage modules written by the test into a temp folder."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from GPT_SoVITS.webui.runner import FAILED, RUNNING, STOPPED, SUCCEEDED, JobRunner

STAGE_OK = """
import json, sys, time
from pathlib import Path
out = Path(sys.argv[1])
with open(out / "progress.jsonl", "a") as f:
    f.write(json.dumps({"time": time.time(), "event": "start", "stage": "fake", "total": 4}) + "\\n")
    for i in range(4):
        ev = {"time": time.time(), "event": "item", "done": i + 1, "total": 4, "name": f"c{i}"}
        f.write(json.dumps(ev) + "\\n")
    f.write(json.dumps({"time": time.time(), "event": "end", "ok": True, "message": "4 files done"}) + "\\n")
print("argv", sys.argv[1:])
"""

STAGE_FAIL = """
import sys
print("loading...")
print("error: /data/a b.wav: not an audio file", file=sys.stderr)
raise SystemExit(2)
"""

STAGE_TREE = """
import subprocess, sys, time
from pathlib import Path
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
Path(sys.argv[1]).write_text(str(child.pid))
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as dead
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split()[2] == "Z")


@pytest.fixture
def runner(tmp_path: Path) -> JobRunner:
    for name, src in {"stage_ok": STAGE_OK, "stage_fail": STAGE_FAIL, "stage_tree": STAGE_TREE}.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(src))
    r = JobRunner(tmp_path / "jobs", cwd=tmp_path)
    yield r
    r.stop_all()


def test_success_reads_only_this_runs_progress(runner: JobRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    old = {"time": 0, "event": "end", "ok": False, "message": "an earlier run failed"}
    (out / "progress.jsonl").write_text(json.dumps(old) + "\n")
    job = runner.start(
        "fake", "stage_ok", [str(out), "--name", "a b|c"], progress_path=out / "progress.jsonl"
    )
    st = runner.wait(job, timeout=60)
    assert st.state == SUCCEEDED and st.returncode == 0
    assert st.fraction == 1.0
    assert st.message == "4 files done"
    assert [e["event"] for e in st.events] == ["start", "item", "item", "item", "item", "end"]
    # the argument with a space and a pipe reached the process as one argv item (no shell)
    assert "'--name', 'a b|c'" in st.log_tail
    record = json.loads((tmp_path / "jobs" / job / "job.json").read_text())
    assert record["steps"][0][0] == sys.executable and record["steps"][0][2:4] == ["-m", "stage_ok"]


def test_failure_message_is_the_stage_reason(runner: JobRunner) -> None:
    st = runner.wait(runner.start("fake", "stage_fail", []), timeout=60)
    assert st.state == FAILED and st.returncode == 2
    assert st.message == "error: /data/a b.wav: not an audio file"


def test_missing_module_fails_readably(runner: JobRunner) -> None:
    st = runner.wait(runner.start("fake", "no_such_stage_module", []), timeout=60)
    assert st.state == FAILED
    assert "No module named no_such_stage_module" in st.message


def test_stop_kills_the_process_tree_and_jobs_survive_reload(runner: JobRunner, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    job = runner.start("tree", "stage_tree", [str(pid_file)])
    deadline = time.time() + 30
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.time() < deadline, "the stage never started its child"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert alive(child)
    # what a reloaded page asks: the job is still listed as running
    assert [s.id for s in runner.running()] == [job]
    assert runner.jobs()[0].state == RUNNING
    st = runner.stop(job, grace_s=2)
    assert st.state == STOPPED
    deadline = time.time() + 10
    while alive(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(child)
    assert runner.running() == []


def test_argv_must_be_a_list_of_strings(runner: JobRunner) -> None:
    with pytest.raises(TypeError):
        runner.start("fake", "stage_ok", ["--epochs", 3])  # type: ignore[list-item]
    with pytest.raises(KeyError):
        runner.status("nope")


def test_chain_runs_steps_in_order_and_stops_at_a_failure(runner: JobRunner, tmp_path: Path) -> None:
    out = tmp_path / "chain"
    out.mkdir()
    ok = runner.wait(runner.start_chain("two", [("stage_ok", [str(out)]), ("stage_ok", [str(out)])]), 60)
    assert ok.state == SUCCEEDED and ok.log_tail.count("argv") == 2
    assert "=== step 2/2" in ok.log_tail
    bad = runner.start_chain("three", [("stage_ok", [str(out)]), ("stage_fail", []), ("stage_ok", ["never"])])
    st = runner.wait(bad, 60)
    assert st.state == FAILED and "not an audio file" in st.message
    assert "never" not in st.log_tail and "step 3/3" not in st.log_tail
    assert runner.latest("two") == ok.id and runner.latest("three") == bad and runner.latest("four") is None
