"""The inference API process the WebUI talks to: started on demand on a loopback port, called over HTTP.

The UI process never loads models; ``ApiServer`` starts ``python -m GPT_SoVITS.api`` through the JobRunner
(so it shows in the job list and its log is kept), waits until it answers, and sends requests with httpx.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from GPT_SoVITS.webui.runner import RUNNING, JobRunner

log = logging.getLogger(__name__)

API_MODULE = "GPT_SoVITS.api"


class ApiError(RuntimeError):
    """The API process could not start or refused a request; the message is its reason."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class TTSResult:
    audio: bytes
    media_type: str
    headers: dict[str, str]


class ApiServer:
    """One API process per WebUI; ``ensure()`` starts it (or restarts it after a crash)."""

    def __init__(
        self, runner: JobRunner, extra_args: list[str] | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.runner = runner
        self.host = host
        self.extra_args = list(extra_args or [])
        self.port: int | None = None
        self.job_id: str | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        return self.job_id is not None and self.runner.status(self.job_id).state == RUNNING

    def ensure(self, timeout_s: float = 180.0) -> str:
        """Start the server if needed and wait until it answers; returns its base URL."""
        with self._lock:
            if not self.running():
                self.port = free_port(self.host)
                args = ["--host", self.host, "--port", str(self.port), *self.extra_args]
                self.job_id = self.runner.start("api", API_MODULE, args)
            self._wait_ready(timeout_s)
            return self.base_url

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.job_id is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            st = self.runner.status(self.job_id)
            if st.state != RUNNING:
                raise ApiError(f"the inference API process ended: {st.message}")
            try:
                httpx.get(f"{self.base_url}/openapi.json", timeout=2.0)
                return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise ApiError(f"the inference API did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.job_id is not None:
            self.runner.stop(self.job_id)

    def _check(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            try:
                body = r.json()
                reason = body.get("message") or body.get("detail") or body.get("error") or str(body)
            except ValueError:
                reason = r.text[:500]
            raise ApiError(f"HTTP {r.status_code}: {reason}")
        return r

    def get(self, route: str, **params: Any) -> Any:
        self.ensure()
        r = self._check(httpx.get(f"{self.base_url}{route}", params=params, timeout=600.0))
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def set_weights(self, gpt: str | None, sovits: str | None) -> None:
        if gpt:
            self.get("/set_gpt_weights", weights_path=gpt)
        if sovits:
            self.get("/set_sovits_weights", weights_path=sovits)

    def tts(self, request: dict[str, Any]) -> TTSResult:
        """POST /tts with the api_v2 body; the audio bytes and the response headers."""
        self.ensure()
        r = self._check(httpx.post(f"{self.base_url}/tts", json=request, timeout=3600.0))
        return TTSResult(r.content, r.headers.get("content-type", ""), dict(r.headers))


def save_result(result: TTSResult, out_dir: Path, stem: str) -> Path:
    """Write the audio bytes under ``out_dir`` with the extension of its media type."""
    ext = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg", "audio/aac": "aac"}.get(
        result.media_type.split(";")[0], "wav"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.{ext}"
    path.write_bytes(result.audio)
    return path
