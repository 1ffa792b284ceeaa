"""Browser test fixtures: Debian's Chromium (installed here if missing), Playwright, a live webui.py."""

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


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; ``apt-get install -y chromium`` when it is missing (Playwright's download is not
    reachable offline)."""
    if not CHROMIUM.exists():
        apt = shutil.which("apt-get")
        if apt is None:
            _unavailable("no /usr/bin/chromium and no apt-get to install it")
        proc = subprocess.run(
            [apt, "install", "-y", "chromium"], check=False, capture_output=True, text=True, timeout=900
        )
        if proc.returncode != 0 or not CHROMIUM.exists():
            _unavailable(f"apt-get install chromium failed: {proc.stderr[-500:]}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
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


def screenshot(page, name: str, publish: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ and, for the README, a copy in docs/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if publish:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{name}.png")
    return path
