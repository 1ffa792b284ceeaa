"""The browser tests' screenshots must show Chinese and Japanese text, not empty boxes."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import require_tool


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_a_cjk_font_is_installed(lang: str) -> None:
    fc_list = require_tool("fc-list")
    fonts = subprocess.run([fc_list, f":lang={lang}"], capture_output=True, text=True, check=True).stdout
    assert fonts.strip(), f"no font covers '{lang}': scripts/setup-env.sh --dev installs fonts-wqy-zenhei"
