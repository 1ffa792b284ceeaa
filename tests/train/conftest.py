"""A synthetic experiment (numpy audio, random features, codes from a tiny SoVITS) shared by trainer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from GPT_SoVITS.data.experiment import Experiment
from tests.train.synth import copy_experiment, make_experiment, save_tiny_gpt, save_tiny_sovits


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pretrained")
    return {"sovits": save_tiny_sovits(root / "s2G.pth"), "gpt": save_tiny_gpt(root / "s1.ckpt")}


@pytest.fixture(scope="session")
def base_experiment(tmp_path_factory: pytest.TempPathFactory, pretrained: dict[str, Path]) -> Experiment:
    return make_experiment(tmp_path_factory.mktemp("base") / "exp", pretrained["sovits"], n=6)


@pytest.fixture
def experiment(base_experiment: Experiment, tmp_path: Path) -> Experiment:
    """A private copy each test may train in or break."""
    return copy_experiment(base_experiment, tmp_path / "exp")
