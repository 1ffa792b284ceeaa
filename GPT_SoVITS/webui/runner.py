"""JobRunner: starts stage CLIs as subprocesses, follows their log and progress, stops them.

One runner lives in the WebUI process and outlives browser sessions, so a page reload lists the jobs that
are still running. Each job gets a folder ``<jobs_dir>/<id>/`` with ``job.json`` (what was run) and
``log.txt`` (stdout and stderr of the process). Progress comes from the stage's ``progress.jsonl``, read
from the byte offset it had when the job started, so earlier runs in the same folder are not mixed in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

RUNNING, SUCCEEDED, FAILED, STOPPED = "running", "succeeded", "failed", "stopped"
_TAIL_BYTES = 16384  # how much of the end of a log the UI shows


@dataclass
class JobStatus:
    """A snapshot of one job, for display."""

    id: str
    stage: str
    state: str  # running | succeeded | failed | stopped
    returncode: int | None
    fraction: float | None  # 0..1 when the stage reported a total, else None
    message: str  # one readable line: what it is doing, or why it failed
    log_tail: str
    events: list[dict] = field(default_factory=list)  # progress.jsonl lines of this run
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Job:
    """A sequence of one or more stage processes run one after the other (stops at the first failure)."""

    id: str
    stage: str
    steps: list[list[str]]  # full argv of each step
    folder: Path
    progress_path: Path | None
    progress_offset: int
    outputs: dict[str, str]
    started: float
    process: subprocess.Popen | None = None
    step: int = 0  # index of the running (or last run) step
    returncode: int | None = None  # of the whole job, once it ended
    stopped: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def log_path(self) -> Path:
        return self.folder / "log.txt"

    @property
    def argv(self) -> list[str]:
        return self.steps[self.step]


def _progress_events(path: Path | None, offset: int) -> list[dict]:
    """JSON lines of ``path`` after ``offset``; a half-written last line is ignored."""
    if path is None or not path.is_file():
        return []
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    events = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            events.append(obj)
    return events


def _tail(path: Path, n_bytes: int = _TAIL_BYTES) -> str:
    if not path.is_file():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - n_bytes))
        return f.read().decode("utf-8", "replace")


def _fraction(events: list[dict]) -> float | None:
    """Progress of the latest event that says how far along the stage is."""
    total = None
    for ev in events:
        if ev.get("event") == "start" and ev.get("total"):
            total = ev["total"]
    for ev in reversed(events):
        t = ev.get("total") or total
        if ev.get("event") == "end" and ev.get("ok"):
            return 1.0
        if ev.get("event") == "item" and t:
            return min(1.0, float(ev.get("done", 0)) / float(t))
        if ev.get("event") == "metric" and total and "step" in ev:
            # trainers' start event gives the total step count
            return min(1.0, float(ev["step"]) / float(total))
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _message(state: str, events: list[dict], log_tail: str, returncode: int | None) -> str:
    ends = [ev for ev in events if ev.get("event") == "end"]
    if ends and ends[-1].get("message"):
        return str(ends[-1]["message"])
    if state == FAILED:
        # A stage prints one line naming its reason before exiting non-zero; a crash ends in the exception.
        return _last_line(log_tail) or f"exited with code {returncode}"
    if state == STOPPED:
        return "stopped"
    for ev in reversed(events):
        if ev.get("event") == "item":
            return f"{ev.get('done')}/{ev.get('total')} {ev.get('name', '')}".strip()
        if ev.get("event") == "metric":
            return ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in ev.items() if k != "time"
            )
    return _last_line(log_tail)


class JobRunner:
    """Starts and follows stage jobs. Thread-safe: Gradio calls handlers from worker threads."""

    def __init__(self, jobs_dir: Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.jobs_dir = Path(jobs_dir)
        self.cwd = cwd
        self.env = env
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def start(
        self,
        stage: str,
        module: str,
        args: list[str],
        progress_path: Path | None = None,
        outputs: dict[str, str] | None = None,
    ) -> str:
        """Run ``python -m module *args`` (an argv list, never a shell string); returns the job id."""
        return self.start_chain(stage, [(module, args)], progress_path, outputs)

    def start_chain(
        self,
        stage: str,
        steps: list[tuple[str, list[str]]],
        progress_path: Path | None = None,
        outputs: dict[str, str] | None = None,
    ) -> str:
        """Run ``python -m module *args`` for each step in order, as one job; a failed step ends the job."""
        if not steps:
            raise ValueError("a job needs at least one step")
        for _module, args in steps:
            if any(not isinstance(a, str) for a in args):
                raise TypeError(f"argv items must be strings, got {args!r}")
        with self._lock:
            self._counter += 1
            job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{self._counter:03d}-{stage}"
        folder = self.jobs_dir / job_id
        folder.mkdir(parents=True, exist_ok=True)
        argvs = [[sys.executable, "-u", "-m", module, *args] for module, args in steps]
        offset = progress_path.stat().st_size if progress_path is not None and progress_path.is_file() else 0
        record = {
            "id": job_id,
            "stage": stage,
            "steps": argvs,
            "progress": str(progress_path or ""),
            "started": time.time(),
        }
        (folder / "job.json").write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        job = Job(job_id, stage, argvs, folder, progress_path, offset, dict(outputs or {}), time.time())
        job.log_path.write_bytes(b"")
        job.process = self._spawn(job)  # the first step starts here, so a bad executable fails at once
        with self._lock:
            self._jobs[job_id] = job
        threading.Thread(target=self._drive, args=(job,), name=f"job-{job_id}", daemon=True).start()
        log.info("started job %s: %s", job_id, argvs)
        return job_id

    def _spawn(self, job: Job) -> subprocess.Popen:
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("HF_HUB_OFFLINE", "1")
        popen_kw: dict = {}
        if os.name == "nt":
            popen_kw["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            popen_kw["start_new_session"] = True  # its own process group: stop() kills the whole tree
        with job.log_path.open("ab") as logf:
            if len(job.steps) > 1:
                logf.write(f"=== step {job.step + 1}/{len(job.steps)}: {' '.join(job.argv[3:])}\n".encode())
                logf.flush()
            return subprocess.Popen(
                job.argv,
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
                env=env,
                **popen_kw,
            )

    def _drive(self, job: Job) -> None:
        """Wait for each step; start the next one while they succeed."""
        try:
            while True:
                assert job.process is not None
                rc = job.process.wait()
                with self._lock:
                    if rc != 0 or job.stopped or job.step + 1 >= len(job.steps):
                        job.returncode = rc
                        return
                    job.step += 1
                    job.process = self._spawn(job)
        finally:
            job.done.set()

    def _get(self, job_id: str) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise KeyError(f"unknown job {job_id!r}")
            return self._jobs[job_id]

    def status(self, job_id: str) -> JobStatus:
        job = self._get(job_id)
        rc = job.returncode
        if not job.done.is_set():
            state = RUNNING
        elif job.stopped:
            state = STOPPED
        else:
            state = SUCCEEDED if rc == 0 else FAILED
        events = _progress_events(job.progress_path, job.progress_offset)
        tail = _tail(job.log_path)
        ends = [ev for ev in events if ev.get("event") == "end"]
        if state == SUCCEEDED and ends and ends[-1].get("ok") is False:
            state = FAILED
        message = _message(state, events, tail, rc)
        if len(job.steps) > 1 and state == RUNNING:
            message = f"[{job.step + 1}/{len(job.steps)}] {message}"
        return JobStatus(job.id, job.stage, state, rc, _fraction(events), message, tail, events, job.outputs)

    def jobs(self) -> list[JobStatus]:
        """Every job of this runner, newest first (what a reloaded page shows)."""
        with self._lock:
            ids = list(self._jobs)
        return [self.status(i) for i in reversed(ids)]

    def latest(self, stage: str) -> str | None:
        """The id of the newest job of ``stage``, or None (no status snapshot: cheap enough to poll)."""
        with self._lock:
            return next((j.id for j in reversed(self._jobs.values()) if j.stage == stage), None)

    def running(self) -> list[JobStatus]:
        return [s for s in self.jobs() if s.state == RUNNING]

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        """Block until the job ended (TimeoutError after ``timeout`` seconds)."""
        if not self._get(job_id).done.wait(timeout):
            raise TimeoutError(f"job {job_id} still running after {timeout} s")
        return self.status(job_id)

    def stop(self, job_id: str, grace_s: float = 5.0) -> JobStatus:
        """Terminate the job's whole process tree (SIGTERM, then SIGKILL after ``grace_s``)."""
        job = self._get(job_id)
        with self._lock:
            if job.done.is_set() or job.process is None:
                return self.status(job_id)
            job.stopped = True  # the driver thread starts no further step
            proc = job.process
        if os.name == "nt":
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], check=False, capture_output=True)
        else:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
        job.done.wait(grace_s + 5)
        if os.name != "nt":
            _signal_group(proc.pid, signal.SIGKILL)  # children that ignored SIGTERM
        return self.status(job_id)

    def stop_all(self) -> None:
        for s in self.running():
            self.stop(s.id)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
