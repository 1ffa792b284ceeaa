"""Every row of the table (cases.py) against its real entry point, with the always-rules.

The default run takes the rows marked ``fast``; ``-m slow`` runs the whole matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.robustness.cases import CASES, Case, Outcome
from tests.robustness.corpus import MARKER
from tests.robustness.runner import (
    CLI_STAGES,
    Result,
    assert_message,
    assert_outputs_finite,
    run_cli,
    run_library,
    snapshot,
)


def _param(case: Case) -> pytest.param:
    marks = [] if case.fast else [pytest.mark.slow]
    if case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
    return pytest.param(case, id=case.id, marks=marks)


def _library_call(case: Case, inp: Path | None):
    if case.stage == "audio":
        from GPT_SoVITS.audio import load_audio

        return lambda: load_audio(inp, sr=32000)
    if case.stage == "listfile":
        from GPT_SoVITS.listfile import read_entries

        return lambda: read_entries(inp)
    if case.stage in ("sovits", "gpt"):
        from GPT_SoVITS.checkpoints import load_gpt, load_sovits

        loader = load_sovits if case.stage == "sovits" else load_gpt
        return lambda: loader(inp)
    if case.stage == "gpt_model":
        from GPT_SoVITS.models.gpt.load import load_gpt_model

        return lambda: load_gpt_model(inp)
    if case.stage == "sovits_model":
        from GPT_SoVITS.models.sovits.build import load_sovits_model

        return lambda: load_sovits_model(inp)
    if case.stage == "text":
        from GPT_SoVITS.text.phones_bert import phones_and_bert

        return lambda: phones_and_bert(case.text, case.lang, "v2")
    raise AssertionError(f"no entry point for stage {case.stage}")


def _check_accepted(case: Case, res: Result, out: Path) -> None:
    assert res.code == 0, f"expected {case.outcome.value}, got exit {res.code}: {res.message}"
    if case.stage == "prepare_text":
        assert (out / "2-name2text.txt").is_file() and assert_outputs_finite(out) >= 1, "no text features"
    elif case.stage in CLI_STAGES:
        assert assert_outputs_finite(out) >= 1, "accepted but no audio written"
    elif case.stage == "audio":
        assert res.value.size and np.all(np.isfinite(res.value)), "empty or non-finite samples"
    elif case.stage == "text":
        ids, bert, _ = res.value
        assert ids and bert.shape[1] == len(ids), "accepted but no phonemes, or features of another length"
        assert bool(bert.isfinite().all()), "non-finite text features"
    elif case.stage == "listfile":
        assert res.value, "accepted but no entries"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    inp_dir, out = tmp_path / "in", tmp_path / "out"
    inp_dir.mkdir()
    inp = case.make(inp_dir) if case.make is not None else None
    before = snapshot(tmp_path, exclude=out)

    cli = case.stage in CLI_STAGES
    bert = request.getfixturevalue("tiny_bert") if case.stage == "prepare_text" else None
    res = run_cli(case.stage, inp, out, bert) if cli else run_library(_library_call(case, inp))

    # always-rules: the inputs unchanged and nothing written outside the output folder
    assert snapshot(tmp_path, exclude=out) == before, "inputs changed or files written outside the output"
    assert not (inp_dir / MARKER).exists() and not Path(MARKER).exists(), "a payload ran"
    if out.exists():
        assert_outputs_finite(out)
    assert "Traceback" not in res.message, f"a traceback reached the user:\n{res.message}"

    name = inp.name if inp is not None else ""
    if case.outcome in (Outcome.ACCEPT, Outcome.WARN):
        _check_accepted(case, res, out)
        if case.outcome == Outcome.WARN:
            said = " | ".join(res.warnings)
            assert case.expect.lower() in said.lower() and name in said, (
                f"no warning naming the change: {said!r}"
            )
    elif case.outcome == Outcome.SKIP:
        assert res.code == 1, f"expected a skip (exit 1), got exit {res.code}: {res.message}"
        assert_message(res, name, case.expect)
    else:  # reject / refuse
        assert res.code == 2, f"expected a rejection (exit 2), got exit {res.code}: {res.message}"
        if case.stage == "text":
            assert case.expect.lower() in res.message.lower(), res.message
        else:
            assert_message(res, name, case.expect)
