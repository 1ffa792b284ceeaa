"""Run one case against its real entry point and check the always-rules.

CLI stages run as ``python -m tools.<stage>`` subprocesses with a time limit; library entry points
(load_audio, the .list reader, the checkpoint loaders, the text frontend) run in this process under an
alarm. Every run returns a ``Result``: the exit code (0 ok, 1 skipped items, 2 rejected), the message
the user sees, and the warnings logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from GPT_SoVITS.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120  # per case; the slowest (a 100,000-line list, 192 kHz resampling) take a few seconds
CLI_STAGES = {
    "slice": "tools.slice",
    "loudnorm": "tools.loudnorm",
    "channels": "tools.channels",
    "prepare_text": "GPT_SoVITS.prepare.text",
}


@dataclass
class Result:
    code: int  # 0 accepted, 1 items skipped, 2 rejected
    message: str = ""  # stderr of a CLI, or the error's text
    warnings: list[str] = field(default_factory=list)
    value: object = None  # what a library call returned


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: object) -> None:
        raise _Timeout(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def run_library(call: Callable[[], object]) -> Result:
    """Call an entry point: a UserError is a rejection (code 2); any other exception propagates (a bug)."""
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.WARNING)
    try:
        with alarm(TIMEOUT_S):
            value = call()
        return Result(0, warnings=handler.lines, value=value)
    except UserError as e:
        return Result(2, str(e), handler.lines)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def run_cli(stage: str, inp: Path, out: Path, bert: Path | None = None) -> Result:
    """``python -m tools.<stage> --input INP --output OUT`` (or prepare.text on a .list) as a user runs it."""
    if stage == "prepare_text":
        cmd = [
            sys.executable,
            "-m",
            CLI_STAGES[stage],
            "--exp",
            str(out),
            "--list",
            str(inp),
            "--bert",
            str(bert),
        ]
        cmd += ["--device", "cpu"]
    else:
        cmd = [sys.executable, "-m", CLI_STAGES[stage], "--input", str(inp), "--output", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=REPO_ROOT
    )
    return Result(
        proc.returncode, proc.stderr.strip(), [ln for ln in proc.stderr.splitlines() if "WARN" in ln]
    )


def snapshot(root: Path, exclude: Path | None = None) -> dict[str, str]:
    """sha256 of every file under ``root`` (skipping ``exclude``), by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and (exclude is None or exclude not in p.parents):
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_outputs_finite(out: Path) -> int:
    """Every wav/npy/pt written under ``out`` holds finite values; returns how many files were checked."""
    n = 0
    for p in out.rglob("*"):
        if p.suffix == ".wav":
            data, _ = sf.read(p, dtype="float32")
            assert data.size and np.all(np.isfinite(data)), f"{p}: empty or non-finite samples"
        elif p.suffix == ".npy":
            assert np.all(np.isfinite(np.load(p))), f"{p}: non-finite values"
        elif p.suffix == ".pt":
            import torch

            t = torch.load(p, map_location="cpu", weights_only=True)
            assert torch.isfinite(t).all(), f"{p}: non-finite values"
        else:
            continue
        n += 1
    return n


def assert_message(res: Result, name: str, expect: str) -> None:
    """The message is words, not only a traceback, names the input and contains the expected reason."""
    msg = res.message
    assert msg, "no message at all"
    assert "Traceback" not in msg, f"a traceback reached the user:\n{msg}"
    assert name in msg, f"the message does not name the input {name!r}: {msg!r}"
    assert expect.lower() in msg.lower(), f"the reason {expect!r} is not in the message: {msg!r}"
    reason = msg.replace(name, "")
    assert sum(ch.isalpha() for ch in reason) >= 8, f"no reason in words: {msg!r}"
