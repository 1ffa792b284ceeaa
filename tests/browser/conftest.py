"""Browser test fixtures: Debian's Chromium (scripts/setup-env.sh installs it), Playwright, a live webui.py.

Screenshots go to test-artifacts/browser/ on every run; the copies in docs/screenshots/ (the README's
pictures) are written only when ``GSV_SCREENSHOTS=1``, i.e. by ``python -m tests.browser.screenshots``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
SCREENSHOTS = REPO / "docs" / "screenshots"
EXPECT_TIMEOUT_MS = 30_000
PUBLISH_ENV = "GSV_SCREENSHOTS"  # "1": copy the README screenshots to SCREENSHOTS


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium (Playwright's own download is not reachable offline). Tests install nothing:
    scripts/setup-env.sh does."""
    if not CHROMIUM.exists():
        _unavailable(f"no {CHROMIUM}: run scripts/setup-env.sh --dev (it installs chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Checks wait up to EXPECT_TIMEOUT_MS (Playwright's 5 s is too short on a busy 2-core CI machine).
    sync_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield b
        b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebUI:
    def __init__(self, root: Path, lang: str = "en_US") -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = root / "webui.log"
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, "webui.py", "--host", "127.0.0.1", "--port", str(self.port), "--lang", lang]
        with self.log.open("wb") as f:
            self.proc = subprocess.Popen(
                [*cmd, "--root", str(root)], cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"webui.py did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.5)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def webui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUI]:
    server = WebUI(tmp_path_factory.mktemp("webui-root"))
    yield server
    server.close()


def publishing() -> bool:
    """Whether this run refreshes docs/screenshots/ (only on request: ``GSV_SCREENSHOTS=1``)."""
    return os.environ.get(PUBLISH_ENV) == "1"


def screenshot(page, name: str, publish: bool = True) -> Path:
    """Save a screenshot under test-artifacts/; a ``publish`` one is also copied to docs/screenshots/ for
    the README when the run was asked to publish (:func:`publishing`)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if publish and publishing():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{name}.png")
    return path
