"""progress.jsonl writing/reading and device/precision resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from GPT_SoVITS.devices import resolve_device, resolve_dtype
from GPT_SoVITS.progress import ProgressLog, read_progress


def test_progress_roundtrip_ignores_half_line(tmp_path: Path) -> None:
    log = ProgressLog(tmp_path / "out")
    log.write("start", stage="slice", total=2)
    log.write("item", done=1, total=2, name="a 音.wav")
    with log.path.open("a", encoding="utf-8") as f:
        f.write('{"event": "item", "done"')  # a writer caught mid-line
    events = read_progress(tmp_path / "out")
    assert [e["event"] for e in events] == ["start", "item"]
    assert events[1]["name"] == "a 音.wav" and events[0]["time"] > 0


def test_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="--device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda:0")
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    assert resolve_dtype("fp16", torch.device("cpu")) == torch.float32
    with pytest.raises(ValueError, match="--precision"):
        resolve_dtype("fp8", torch.device("cpu"))
