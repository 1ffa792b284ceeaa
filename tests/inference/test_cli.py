"""``python -m GPT_SoVITS.inference`` end to end as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO_ROOT


def run_cli(*args: str | Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "GPT_SoVITS.inference", *map(str, args)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=env, check=False
    )


@pytest.fixture(scope="module")
def common(golden_models, bert_dir: Path, hubert_dir: Path, refs: dict[str, Path]) -> list:
    return [
        "--gpt",
        golden_models[0],
        "--sovits",
        golden_models[1],
        "--bert",
        bert_dir,
        "--hubert",
        hubert_dir,
        "--ref-audio",
        refs["zh"],
        "--prompt-text",
        "今天天气很好。",
        "--prompt-lang",
        "zh",
        "--text-lang",
        "zh",
        "--device",
        "cpu",
        "--max-retries",
        "0",
    ]


@pytest.mark.slow
def test_cli_writes_audio_and_streams_the_same(common: list, tmp_path: Path) -> None:
    out, meta = tmp_path / "out.wav", tmp_path / "meta.json"
    text = [
        "--text",
        "今天天气很好，我们去公园散步吧。明天见！",
        "--seed",
        "3",
        "--text-split-method",
        "cut5",
        "--fragment-interval",
        "0.2",
    ]
    done = run_cli(*common, *text, "--out", out, "--metadata", meta)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout and "seed 3" in done.stdout
    wav, sr = sf.read(out, dtype="float32")
    info = json.loads(meta.read_text(encoding="utf-8"))
    assert sr == 32000 and len(wav) / sr == pytest.approx(info["duration_s"], abs=1e-3)
    assert len(info["segments"]) >= 2 and np.abs(wav).max() > 1e-3
    # Per-segment streaming to disk gives the same samples (same seed).
    streamed = tmp_path / "stream.wav"
    done = run_cli(*common, *text, "--out", streamed, "--streaming-mode", "1")
    assert done.returncode == 0, done.stderr
    again, sr2 = sf.read(streamed, dtype="float32")
    assert sr2 == 32000 and np.array_equal(again, wav)


def test_cli_bad_input_exits_2_with_one_line(common: list, tmp_path: Path, refs: dict[str, Path]) -> None:
    done = run_cli(*common, "--text", "   ", "--out", tmp_path / "x.wav")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "text" in done.stderr and not (tmp_path / "x.wav").exists()


@pytest.mark.slow
def test_cli_refuses_wrong_weights_and_silent_reference(
    common: list, tmp_path: Path, golden_models, refs
) -> None:
    swapped = [golden_models[1] if a == golden_models[0] else a for a in common]
    done = run_cli(*swapped, "--text", "你好。", "--out", tmp_path / "x.wav")
    assert done.returncode == 2 and "error:" in done.stderr and str(golden_models[1]) in done.stderr
    silent = [refs["silent"] if a == refs["zh"] else a for a in common]
    done = run_cli(*silent, "--text", "你好。", "--out", tmp_path / "y.wav")
    assert done.returncode == 2 and "silent" in done.stderr
