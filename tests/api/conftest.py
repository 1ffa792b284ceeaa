"""A real API server (uvicorn subprocess on a free loopback port) with the tiny models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.inference.conftest import bert_dir, golden_models, hubert_dir, refs  # noqa: F401 (fixtures)

TOKEN = "s3cret-token"


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(
            self.url + path, headers={**self.headers, **kw.pop("headers", {})}, timeout=300, **kw
        )

    def post(self, path: str, **kw) -> requests.Response:
        return requests.post(
            self.url + path, headers={**self.headers, **kw.pop("headers", {})}, timeout=300, **kw
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    folder: Path,
    models: tuple[Path, Path],
    bert: Path,
    hubert: Path,
    roots: list[Path],
    *extra: str,
    until: tuple[str, ...] = ("ok",),
) -> Server:
    """Start a server; return once /health answers with a status in ``until`` ("warming" returns as
    soon as the server listens, before the start-up warm-up has finished)."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "GPT_SoVITS.api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--gpt",
        str(models[0]),
        "--sovits",
        str(models[1]),
        "--bert",
        str(bert),
        "--hubert",
        str(hubert),
        "--device",
        "cpu",
        "--token",
        TOKEN,
        "--presets-dir",
        str(folder / "presets"),
        "--upload-dir",
        str(folder / "uploads"),
        "--allowed-roots",
        *map(str, roots),
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)
    server = Server(f"http://127.0.0.1:{port}", TOKEN, proc, log)
    deadline = time.monotonic() + 300  # a busy 2-core machine loads slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            health = requests.get(server.url + "/health", timeout=5)
            if health.status_code == 200 and health.json()["status"] in until:
                return server
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a busy machine
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    golden_models,  # noqa: F811 (the fixture imported above)
    bert_dir,  # noqa: F811
    hubert_dir,  # noqa: F811
    refs,  # noqa: F811
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("api")
    roots = [refs["zh"].parent, golden_models[0].parent]
    srv = start_server(folder, golden_models, bert_dir, hubert_dir, roots, "--max-queue", "64")
    yield srv
    stop_server(srv)
