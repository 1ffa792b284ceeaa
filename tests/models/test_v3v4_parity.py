"""The v3v4 parity group on the golden set (shared/parity/next/golden)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from GPT_SoVITS.parity import v3v4
from GPT_SoVITS.parity.__main__ import main as parity_main


@pytest.mark.slow
def test_one_v4_case_matches_the_official_outputs_step_by_step(next_golden_dir: Path) -> None:
    """The case with the per-step velocity trace: mel, decode_encp, every CFM step, vocoder, audio."""
    cases = json.loads((next_golden_dir / v3v4.CASES_FILE).read_text(encoding="utf-8"))["v4"]
    name = next(n for n, c in cases.items() if c.get("has_velocity_trace"))
    results = v3v4.run_case(next_golden_dir, "v4", name, cases[name])
    checked = {r.case.split(".", 1)[1] for r in results}
    assert {"audio", "chunk0_velocity_per_step", "encp_prompt_fea", "mel_ref_raw"} <= checked
    assert [r.row() for r in results if not r.ok] == []


def test_group_skips_a_golden_set_without_v3v4(golden_dir: Path) -> None:
    assert v3v4.run(golden_dir, "v3v4") == []


@pytest.mark.slow
def test_whole_v3v4_group_passes(next_golden_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parity_main(["--golden", str(next_golden_dir), "--only", "v3v4"]) == 0
    out = capsys.readouterr().out
    assert "v3_base_long_steps4.chunk1_cfm_out" in out and "v3.lora_merged" in out
