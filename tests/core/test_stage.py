"""The shared stage runtime: exit codes, the one error line, the failure's progress event."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from GPT_SoVITS.audio import AudioError
from GPT_SoVITS.errors import UserError
from GPT_SoVITS.progress import ProgressLog, read_progress
from GPT_SoVITS.stage import (
    StageError,
    StageFailure,
    add_device_args,
    resolve_device_args,
    stage_main,
    stage_parser,
)

REPO = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    p = stage_parser("tests.fake_stage", "A fake stage.\n\nMore text.")
    p.add_argument("--out", type=Path, required=True, help="progress folder")
    add_device_args(p)
    return p


def _main(tmp_path: Path, run) -> int:
    return stage_main(["--out", str(tmp_path)], _parser(), run, "fake", progress=lambda a: ProgressLog(a.out))


def test_success_returns_the_run_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert _main(tmp_path, lambda args: 0) == 0
    assert _main(tmp_path, lambda args: 1) == 1  # a batch stage that skipped items says so itself
    assert capsys.readouterr().err == ""
    assert read_progress(tmp_path) == []  # a successful run writes its own events


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (StageError("--epochs must be >= 1, got 0", field="--epochs"), "error: --epochs must be >= 1, got 0"),
        (UserError("must be within 0..1", field="--strength"), "error: --strength: must be within 0..1"),
        (AudioError("/data/a.wav", "file is empty (0 bytes)"), "error: /data/a.wav: file is empty (0 bytes)"),
    ],
)
def test_user_error_is_one_line_naming_the_field_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, error: UserError, expected: str
) -> None:
    def run(args: argparse.Namespace) -> int:
        raise error

    assert _main(tmp_path, run) == 2
    assert capsys.readouterr().err.strip() == expected
    end = read_progress(tmp_path)[-1]
    assert end["event"] == "end" and end["ok"] is False and end["stage"] == "fake"
    assert end["message"] == expected.removeprefix("error: ")


def test_a_bug_exits_1_with_its_traceback_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    def run(args: argparse.Namespace) -> int:
        return {}["missing"]  # a KeyError: a bug, not bad input

    assert _main(tmp_path, run) == 1
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.levelname == "ERROR" and record.exc_info[0] is KeyError  # the traceback is logged
    assert capsys.readouterr().err.strip() == "error: internal error: KeyError: 'missing'"
    assert read_progress(tmp_path)[-1]["message"] == "internal error: KeyError: 'missing'"


def test_a_failure_of_the_environment_exits_1_with_one_line(tmp_path: Path, capsys) -> None:
    def run(args: argparse.Namespace) -> int:
        raise StageFailure("model.bin: download interrupted; run again to resume")

    assert _main(tmp_path, run) == 1
    assert capsys.readouterr().err.strip() == "error: model.bin: download interrupted; run again to resume"


def test_record_false_leaves_the_folder_alone(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def run(args: argparse.Namespace) -> int:
        raise StageError("output folder must differ from the input folder", record=False)

    assert _main(tmp_path, run) == 2
    assert not list(tmp_path.iterdir())


def test_device_flags_resolve_and_a_bad_device_names_the_flag(capsys: pytest.CaptureFixture) -> None:
    import torch

    device, dtype = resolve_device_args(_parser().parse_args(["--out", "x", "--device", "cpu"]))
    assert device == torch.device("cpu") and dtype == torch.float32

    def run(args: argparse.Namespace) -> int:
        resolve_device_args(args)
        return 0

    assert stage_main(["--out", "x", "--device", "tpu"], _parser(), run) == 2
    assert capsys.readouterr().err.strip().startswith("error: --device: 'tpu'")


def test_a_stage_cli_bug_in_a_subprocess_exits_1(tmp_path: Path) -> None:
    """End to end: a batch stage whose per-file step has a bug stops (exit 1), it does not skip the file."""
    script = (
        "import sys, tools.channels as c\n"
        "def broken(*a, **k):\n    raise ZeroDivisionError('a bug')\n"
        "c.process_file = broken\n"
        "sys.exit(c.main(sys.argv[1:]))\n"
    )
    import numpy as np
    import soundfile as sf

    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", np.zeros(3200, np.float32) + 0.1, 16000)
    r = subprocess.run(
        [sys.executable, "-c", script, "--input", tmp_path / "in", "--output", tmp_path / "out"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "ZeroDivisionError: a bug" in r.stderr and "Traceback" in r.stderr
    assert not any(e["event"] == "skip" for e in read_progress(tmp_path / "out"))
    assert read_progress(tmp_path / "out")[-1]["ok"] is False


def test_decoding_flags_set_threads_once_for_the_process() -> None:
    import argparse

    import torch

    from GPT_SoVITS.stage import add_decoding_args, apply_threads

    p = argparse.ArgumentParser()
    add_decoding_args(p)
    assert p.parse_args([]).gpt_backend == "auto" and p.parse_args([]).threads is None
    before = torch.get_num_threads()
    try:
        apply_threads(p.parse_args(["--threads", "1", "--gpt-backend", "numpy"]))
        assert torch.get_num_threads() == 1
        apply_threads(p.parse_args([]))  # no flag: torch's setting is left alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
