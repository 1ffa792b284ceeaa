"""Server state shared by the routes: the engine, allowed roots, uploads, presets, the bounded work queue.

Synthesis runs on a small thread pool (``workers``, default 1: on CPU one request at a time is fastest
and keeps results independent of load). ``Admission`` counts requests waiting or running; beyond
``max_queue`` a request is refused at once with HTTP 429 rather than queueing forever.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from GPT_SoVITS.api.presets import PresetStore
from GPT_SoVITS.api.warmup import Warmup
from GPT_SoVITS.errors import UserError
from GPT_SoVITS.inference.request import RequestError

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # 50 MiB: minutes of audio, far more than any reference needs


class QueueFull(RuntimeError):
    """The request queue is full (HTTP 429)."""


class PathNotAllowed(UserError):
    """A path outside the configured roots (HTTP 400)."""

    def __init__(self, field_name: str, path: str) -> None:
        super().__init__(f"{field_name}: {path!r} is outside the allowed roots")
        self.field = field_name


class Admission:
    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self._count = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self._count >= self.max_queue:
                raise QueueFull(
                    f"server busy: {self._count} requests queued or running (max {self.max_queue})"
                )
            self._count += 1

    def leave(self) -> None:
        with self._lock:
            self._count -= 1

    @property
    def count(self) -> int:
        return self._count


@dataclass
class ServerState:
    engine: Any  # TTSEngine (typed loosely so tests can read the module without loading models)
    allowed_roots: list[Path]
    upload_dir: Path
    presets: PresetStore
    token: str | None = None
    max_queue: int = 32
    workers: int = 1
    default_ref: str | None = None  # set by /set_refer_audio (official): used when a request names none
    warmup: Warmup = field(default_factory=Warmup)  # the start-up warm-up ("warming" in /health)
    admission: Admission = field(init=False)
    pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self.allowed_roots = [Path(r).resolve() for r in self.allowed_roots]
        # Uploads and presets are always readable: the server wrote them itself.
        self.allowed_roots += [self.upload_dir.resolve(), self.presets.root.resolve()]
        self.admission = Admission(self.max_queue)
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="tts")

    def check_path(self, field_name: str, path: str) -> str:
        """``path`` resolved, if inside an allowed root; else PathNotAllowed."""
        if not path:
            raise RequestError(field_name, "is required")
        if "\x00" in path:
            raise RequestError(field_name, "contains a NUL character")
        try:
            resolved = Path(path).expanduser().resolve()
            resolved.exists()  # a name the OS refuses (too long...) is the caller's input, not our bug
        except OSError as e:
            raise RequestError(field_name, f"unusable path {path[:80]!r}: {e.strerror or e}") from e
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.allowed_roots):
            raise PathNotAllowed(field_name, path)
        return str(resolved)

    def save_upload(self, data: bytes, filename: str) -> str:
        """Store uploaded bytes under their content hash; returns the server path clients pass back."""
        if not data:
            raise RequestError("ref_audio", "uploaded file is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise RequestError("ref_audio", f"upload larger than {MAX_UPLOAD_BYTES} bytes")
        suffix = Path(filename or "").suffix.lower()
        suffix = suffix if suffix in {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus"} else ".wav"
        path = self.upload_dir / (hashlib.sha256(data).hexdigest()[:32] + suffix)
        if not path.exists():
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return str(path.resolve())

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the worker pool, counted by the admission queue."""
        self.admission.enter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
        finally:
            self.admission.leave()

    async def stream(self, make: Callable[[], Iterator[T]]) -> tuple[T, AsyncIterator[T]]:
        """Start a generator on the pool; returns its first item (so errors surface before the response
        starts) and an async iterator over the rest. The admission slot is held until the stream ends."""
        self.admission.enter()
        loop = asyncio.get_running_loop()
        done = object()
        try:
            it = await loop.run_in_executor(self.pool, make)
            first = await loop.run_in_executor(self.pool, next, it, done)
        except BaseException:
            self.admission.leave()
            raise

        async def rest() -> AsyncIterator[T]:
            try:
                while True:
                    item = await loop.run_in_executor(self.pool, next, it, done)
                    if item is done:
                        return
                    yield item
            finally:
                self.admission.leave()

        if first is done:
            self.admission.leave()
            raise RequestError("text", "nothing to synthesise")
        return first, rest()
