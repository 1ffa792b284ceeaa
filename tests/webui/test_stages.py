"""UI values -> stage argv: every stage's argv parses with the stage's own argparse where it has landed."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

from GPT_SoVITS.webui.stages import (
    STAGES,
    StageInputError,
    asr_list_path,
    build_argv,
    fed_values,
    progress_file,
)


def test_slice_argv_uses_the_official_defaults(tmp_path: Path) -> None:
    wav = tmp_path / "in put.wav"
    wav.write_bytes(b"x")
    argv = build_argv(STAGES["slice"], {"input": str(wav), "output": str(tmp_path / "out")})
    assert argv[:4] == ["--input", str(wav), "--output", str(tmp_path / "out")]
    pairs = dict(zip(argv[4::2], argv[5::2], strict=True))
    assert pairs["--threshold"] == "-34.0" and pairs["--min-length"] == "4000"
    assert (
        pairs["--min-interval"] == "300" and pairs["--hop-size"] == "10" and pairs["--max-sil-kept"] == "500"
    )
    assert pairs["--max"] == "0.9" and pairs["--alpha"] == "0.25" and pairs["--max-length"] == "15.0"


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({}, "input", "required"),
        ({"input": "/no/such/file.wav", "output": "o"}, "input", "no such file or folder"),
        ({"input": ".", "output": "o", "threshold": "loud"}, "threshold", "expected a number"),
        ({"input": ".", "output": "o", "min_length": 2.5}, "min_length", "integer"),
        ({"input": ".", "output": "o", "alpha": 2}, "alpha", "<= 1"),
        ({"input": ".", "output": "o", "processes": 0}, "processes", ">= 1"),
        ({"input": ".", "output": "o", "bogus": 1}, "bogus", "not a value"),
    ],
)
def test_slice_rejects_bad_values(values: dict, field: str, reason: str) -> None:
    with pytest.raises(StageInputError, match=reason) as e:
        build_argv(STAGES["slice"], values)
    assert e.value.field == field


def test_asr_and_list_path(tmp_path: Path) -> None:
    clips = tmp_path / "slicer_opt"
    clips.mkdir()
    values = {"input": str(clips), "output": str(tmp_path / "asr"), "language": "en"}
    argv = build_argv(STAGES["asr"], values)
    assert argv[argv.index("--language") + 1] == "en" and "--model" in argv
    assert asr_list_path(values) == tmp_path / "asr" / "slicer_opt.list"
    with pytest.raises(StageInputError, match="not one of"):
        build_argv(STAGES["asr"], {**values, "language": "xx"})
    with pytest.raises(StageInputError, match="no such folder"):
        build_argv(STAGES["asr"], {**values, "input": str(tmp_path / "nope")})


def test_training_values(tmp_path: Path) -> None:
    exp = tmp_path / "logs" / "x"
    exp.mkdir(parents=True)
    spec = STAGES["train_sovits"]
    argv = build_argv(spec, {"exp": str(exp), "batch_size": "auto", "device": "cuda:1", "pretrained_g": ""})
    assert argv[argv.index("--batch-size") + 1] == "auto" and argv[argv.index("--device") + 1] == "cuda:1"
    assert "--pretrained-g" not in argv  # empty optional values leave the flag to the CLI default
    assert argv[argv.index("--epochs") + 1] == "8"
    with pytest.raises(StageInputError, match="not a device"):
        build_argv(spec, {"exp": str(exp), "device": "gpu0"})
    with pytest.raises(StageInputError, match="no such file"):
        build_argv(spec, {"exp": str(exp), "pretrained_g": str(tmp_path / "missing.pth")})
    gpt = build_argv(STAGES["train_gpt"], {"exp": str(exp), "dpo": True})
    assert "--dpo" in gpt and "--dpo" not in build_argv(STAGES["train_gpt"], {"exp": str(exp), "dpo": False})
    assert progress_file(spec, {"exp": str(exp)}) == exp / "progress.jsonl"


def test_outputs_feed_the_next_stage() -> None:
    fed = fed_values("slice", {"output": "/data/sliced"})
    assert fed[("asr", "input")] == "/data/sliced"
    assert fed_values("asr", {"output": "x"}) == {}


def _parser_of(module: str):  # the stage's own argparse, where the stage module exposes one
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} has not landed yet")
    mod = importlib.import_module(module)
    for name in ("build_parser", "make_parser"):
        if hasattr(mod, name):
            return getattr(mod, name)()
    pytest.skip(f"{module} exposes no parser builder")


@pytest.mark.parametrize("stage", ["prepare_text", "prepare_hubert", "prepare_semantic"])
def test_prepare_argv_parses_with_the_stage_parser(stage: str, tmp_path: Path) -> None:
    parser = _parser_of(STAGES[stage].module)
    lst = tmp_path / "a.list"
    lst.write_text("")
    pth = tmp_path / "s2G.pth"
    pth.write_bytes(b"")
    values = {"exp": str(tmp_path / "exp"), "list": str(lst), "pretrained_sovits": str(pth), "device": "cpu"}
    values |= {"bert": str(tmp_path), "hubert": str(tmp_path)}
    values = {k: v for k, v in values.items() if k in {a.key for a in STAGES[stage].args}}
    ns = parser.parse_args(build_argv(STAGES[stage], values))
    assert Path(ns.exp) == tmp_path / "exp" and ns.device == "cpu" and ns.version == "v2"


def test_missing_model_folder_is_reported_before_starting(tmp_path: Path) -> None:
    values = {"exp": str(tmp_path), "list": __file__, "bert": str(tmp_path / "no-bert")}
    with pytest.raises(StageInputError, match="no such folder") as e:
        build_argv(STAGES["prepare_text"], values)
    assert e.value.field == "bert"


@pytest.mark.parametrize("stage", ["train_sovits", "train_gpt"])
def test_train_argv_parses_with_the_trainer_parser(stage: str, tmp_path: Path) -> None:
    parser = _parser_of(STAGES[stage].module)
    values = {"exp": str(tmp_path), "batch_size": "3", "device": "cpu", "version": "v1", "dpo": True}
    values = {k: v for k, v in values.items() if k in {a.key for a in STAGES[stage].args}}
    ns = parser.parse_args(build_argv(STAGES[stage], values))
    assert ns.batch_size == 3 and ns.version == "v1" and ns.precision == "auto" and ns.save_every >= 1


TOOLS = {
    "slice": "tools.slice",
    "asr": "tools.asr.__main__",
    "vad": "tools.vad",
    "loudnorm": "tools.loudnorm",
    "denoise": "tools.denoise",
    "channels": "tools.channels",
    "separate": "tools.separate",
}


@pytest.mark.parametrize(("stage", "module"), TOOLS.items())
def test_tool_argv_parses_with_the_tool_parser(stage: str, module: str, tmp_path: Path) -> None:
    if importlib.util.find_spec(module.split(".__", maxsplit=1)[0]) is None:
        pytest.skip(f"{module} has not landed yet")
    mod = importlib.import_module(module)
    values = {"input": str(tmp_path), "output": str(tmp_path / "out")}
    if stage == "separate":
        values["model"] = str(tmp_path)
    argv = build_argv(STAGES[stage], values)
    ns = mod.build_parser().parse_args(argv)
    assert Path(ns.input) == tmp_path and Path(ns.output) == tmp_path / "out"


def test_version_choices_come_from_the_version_table() -> None:
    """Every version field offers what the versions table says that stage can do, and the Models tab knows
    the files of every version."""
    from GPT_SoVITS.versions import SPECS, version_names
    from GPT_SoVITS.webui import pretrained

    prepares = [v.value for v, s in SPECS.items() if s.prepares]
    trains = [v.value for v, s in SPECS.items() if s.trains]
    assert "v2" in trains and "v3" not in prepares  # the table's facts the UI relies on today
    for key in ("prepare_text", "prepare_hubert", "prepare_semantic"):
        assert list(STAGES[key].arg("version").choices) == prepares
    for key in ("train_sovits", "train_gpt"):
        assert list(STAGES[key].arg("version").choices) == trains
    assert set(STAGES["download"].arg("version").choices) == set(pretrained.VERSIONS) == set(version_names())
