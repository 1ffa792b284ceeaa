"""The benchmarks run end to end on tiny workloads and print their tables (no timing is asserted)."""

from __future__ import annotations

import re

import pytest

from tests.train.synth import run_module

pytestmark = pytest.mark.slow


def test_bench_inference_prints_every_stage_against_its_floor() -> None:
    r = run_module("bench.inference", "--text-chars", "14", "--tokens", "4", timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    for stage in ("frontend", "gpt", "sovits", "total"):
        row = re.search(rf"^{stage}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out, re.M)
        assert row, f"no {stage} row in:\n{out}"
        time_s, floor_s, ratio = map(float, row.groups())
        assert time_s > 0 and floor_s > 0
        assert abs(ratio * floor_s - time_s) <= 0.005 * ratio + 0.006  # the printed values are rounded
    work = re.search(r"work: (\d+) BERT positions, (\d+) GPT prefill positions", out)
    assert work and int(work[1]) > 0 and int(work[2]) > 0
    assert re.search(r"batch size 1: (\d+) GPT passes", out)
    assert "first audio chunk after" in out


def test_bench_decode_compares_with_the_official_style_step() -> None:
    args = ["--tokens", "6", "--legacy-tokens", "1", "--official-tokens", "4", "--precisions", "fp32"]
    r = run_module("bench.decode", *args, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"kv cache / floor = [\d.]+x median", r.stdout), r.stdout
    ours = re.search(r"ours fp32: [\d.]+ ms median; ours / official = ([\d.]+)x", r.stdout)
    assert ours and float(ours[1]) > 0, r.stdout


def test_bench_cfm_prints_the_cfm_and_vocoder_stages_against_their_floors() -> None:
    r = run_module("bench.cfm", "--small", "--steps", "4", timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    for stage in ("cfm", "vocoder", "total"):
        row = re.search(rf"^{stage}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", r.stdout, re.M)
        assert row, f"no {stage} row in:\n{r.stdout}"
        assert all(float(v) > 0 for v in row.groups())
    assert re.search(r"real-time factor [\d.]+", r.stdout)
