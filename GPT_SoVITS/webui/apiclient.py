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


@dataclass(frozen=True)
class ApiSettings:
    """What the API process is started with; changing anything but the weights restarts it."""

    gpt: str
    sovits: str
    bert: str = ""  # empty: the API's default folder
    hubert: str = ""
    no_bert: bool = False
    device: str = "auto"
    precision: str = "fp32"

    def process_key(self) -> tuple:
        return (self.bert, self.hubert, self.no_bert, self.device, self.precision)


class ApiServer:
    """One API process per WebUI; ``ensure(settings)`` starts it, restarts it when its process settings
    change or it died, and switches weights through the API's own routes."""

    def __init__(
        self, runner: JobRunner, allowed_roots: list[str] | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.runner = runner
        self.host = host
        self.allowed_roots = list(allowed_roots or [])
        self.port: int | None = None
        self.job_id: str | None = None
        self.settings: ApiSettings | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        return self.job_id is not None and self.runner.status(self.job_id).state == RUNNING

    def _args(self, s: ApiSettings) -> list[str]:
        args = ["--host", self.host, "--port", str(self.port), "--gpt", s.gpt, "--sovits", s.sovits]
        args += ["--device", s.device, "--precision", s.precision]
        args += ["--bert", s.bert] if s.bert else []
        args += ["--hubert", s.hubert] if s.hubert else []
        args += ["--no-bert"] if s.no_bert else []
        args += ["--allowed-roots", *self.allowed_roots] if self.allowed_roots else []
        return args

    def ensure(self, settings: ApiSettings, timeout_s: float = 300.0) -> str:
        """The server for ``settings``, started or switched as needed; returns its base URL."""
        with self._lock:
            same_process = self.settings is not None and self.settings.process_key() == settings.process_key()
            if self.running() and same_process:
                assert self.settings is not None
                if settings.gpt != self.settings.gpt:
                    self._get("/set_gpt_weights", weights_path=settings.gpt)
                if settings.sovits != self.settings.sovits:
                    self._get("/set_sovits_weights", weights_path=settings.sovits)
            else:
                if self.running():
                    self.stop()
                self.port = free_port(self.host)
                self.job_id = self.runner.start("api", API_MODULE, self._args(settings))
                self._wait_ready(timeout_s)
            self.settings = settings
            return self.base_url

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.job_id is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            st = self.runner.status(self.job_id)
            if st.state != RUNNING:
                raise ApiError(f"the inference API process ended: {st.message}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise ApiError(f"the inference API did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.job_id is not None:
            self.runner.stop(self.job_id)
        self.settings = None

    def _check(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            try:
                body = r.json()
                reason = body.get("message") or body.get("detail") or body.get("error") or str(body)
            except ValueError:
                reason = r.text[:500]
            raise ApiError(f"HTTP {r.status_code}: {reason}")
        return r

    def _get(self, route: str, **params: Any) -> Any:
        try:
            r = self._check(httpx.get(f"{self.base_url}{route}", params=params, timeout=600.0))
        except httpx.HTTPError as e:
            raise ApiError(f"{route}: {e}") from e
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def tts(self, settings: ApiSettings, request: dict[str, Any]) -> TTSResult:
        """POST /tts with the api_v2 body on a server for ``settings``; audio bytes and response headers."""
        self.ensure(settings)
        try:
            r = self._check(httpx.post(f"{self.base_url}/tts", json=request, timeout=3600.0))
        except httpx.HTTPError as e:
            raise ApiError(f"/tts: {e}") from e
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
