"""The tiny BERT prepare.text runs with (made once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.cases import PREP_TEXTS


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("bert"), sorted(set("".join(PREP_TEXTS))))
