"""The inference API process the WebUI talks to: started on demand on a loopback port, called over HTTP.

The UI process never loads models; ``ApiServer`` starts ``python -m GPT_SoVITS.api`` through the JobRunner
(so it shows in the job list and its log is kept), waits until it answers, and sends requests with httpx.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from GPT_SoVITS.fileio import atomic_write_bytes
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

    def tts_stream(self, settings: ApiSettings, request: dict[str, Any]) -> Iterator[tuple[int, np.ndarray]]:
        """POST /tts with per-segment streaming; yields (sample rate, int16 samples) as they arrive."""
        self.ensure(settings)
        body = {**request, "streaming_mode": 1, "media_type": "wav"}
        try:
            with httpx.stream("POST", f"{self.base_url}/tts", json=body, timeout=3600.0) as r:
                if r.status_code >= 400:
                    r.read()
                    self._check(r)
                yield from WavStream().feed_all(r.iter_bytes())
        except httpx.HTTPError as e:
            raise ApiError(f"/tts (streaming): {e}") from e


class WavStream:
    """Parses a streamed WAV (one RIFF header whose sizes are unknown, then int16 frames) chunk by chunk."""

    def __init__(self) -> None:
        self.buf = b""
        self.sr: int | None = None
        self.channels = 1
        self.in_data = False

    def _header(self) -> bool:
        """Consume the header once it is complete; False while more bytes are needed."""
        if len(self.buf) < 12:
            return False
        if self.buf[:4] != b"RIFF" or self.buf[8:12] != b"WAVE":
            raise ApiError("the streamed audio is not WAV")
        pos = 12
        while len(self.buf) >= pos + 8:
            cid, size = self.buf[pos : pos + 4], int.from_bytes(self.buf[pos + 4 : pos + 8], "little")
            if cid == b"data":
                self.buf, self.in_data = self.buf[pos + 8 :], True
                return True
            if len(self.buf) < pos + 8 + size:
                return False
            if cid == b"fmt ":
                fmt = self.buf[pos + 8 : pos + 8 + size]
                self.channels = int.from_bytes(fmt[2:4], "little")
                self.sr = int.from_bytes(fmt[4:8], "little")
                if int.from_bytes(fmt[14:16], "little") != 16:
                    raise ApiError("the streamed WAV is not 16-bit PCM")
            pos += 8 + size + (size & 1)
        return False

    def feed(self, data: bytes) -> tuple[int, np.ndarray] | None:
        self.buf += data
        if not self.in_data and not self._header():
            return None
        frame = 2 * self.channels
        usable = len(self.buf) - len(self.buf) % frame
        if usable == 0 or self.sr is None:
            return None
        samples = np.frombuffer(self.buf[:usable], dtype="<i2").reshape(-1, self.channels)
        self.buf = self.buf[usable:]
        return self.sr, samples[:, 0] if self.channels == 1 else samples

    def feed_all(self, chunks: Iterable[bytes]) -> Iterator[tuple[int, np.ndarray]]:
        for data in chunks:
            out = self.feed(data)
            if out is not None:
                yield out


def save_result(result: TTSResult, out_dir: Path, stem: str) -> Path:
    """Write the audio bytes under ``out_dir`` with the extension of its media type."""
    ext = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/ogg": "ogg", "audio/aac": "aac"}.get(
        result.media_type.split(";")[0], "wav"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.{ext}"
    atomic_write_bytes(path, result.audio)
    return path
