"""A normal test run never writes docs/screenshots/; only a run asked to publish does (no browser needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import conftest


class PngPage:
    """What ``screenshot`` needs of a Playwright page: write an image file to ``path``."""

    def screenshot(self, path: str, full_page: bool) -> None:
        Path(path).write_bytes(b"\x89PNG\r\n\x1a\n")


def test_screenshots_are_published_only_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "ARTIFACTS", tmp_path / "artifacts")
    monkeypatch.setattr(conftest, "SCREENSHOTS", tmp_path / "docs")
    monkeypatch.delenv(conftest.PUBLISH_ENV, raising=False)
    conftest.screenshot(PngPage(), "tab")
    assert (tmp_path / "artifacts" / "tab.png").is_file() and not (tmp_path / "docs").exists()
    monkeypatch.setenv(conftest.PUBLISH_ENV, "1")
    conftest.screenshot(PngPage(), "tab")
    conftest.screenshot(PngPage(), "draft", publish=False)
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["tab.png"]


def test_fixtures_install_nothing() -> None:
    """System packages come from scripts/setup-env.sh, never from a test fixture."""
    source = Path(conftest.__file__).read_text(encoding="utf-8")
    assert "apt-get" not in source and "apt install" not in source
