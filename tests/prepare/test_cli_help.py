"""Every stage CLI of this area: --help works and every flag has a help text."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "GPT_SoVITS.prepare.text",
    "GPT_SoVITS.prepare.hubert",
    "GPT_SoVITS.prepare.semantic",
    "GPT_SoVITS.train.sovits",
    "GPT_SoVITS.train.gpt",
]


@pytest.mark.parametrize("module", MODULES)
def test_help_on_every_flag(module: str, capsys: pytest.CaptureFixture) -> None:
    parser = importlib.import_module(module).build_parser()
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{module}: {action.option_strings} has no help"
    with pytest.raises(SystemExit) as e:
        importlib.import_module(module).main(["--help"])
    assert e.value.code == 0
    assert "--exp" in capsys.readouterr().out
