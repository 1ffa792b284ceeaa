"""Warm start: one tiny synthesis at start-up, so the first real request does not pay for compilation.

The first synthesis of a process compiles the decoding kernels (numba, TorchScript), loads the text
frontend's dictionaries and sizes the allocator's caches; on CPU it took about 5x the second. ``warm_up``
runs that first synthesis on a made-up reference through the engine's public ``synthesize``/``stream`` only
(so it survives changes inside the engine). ``Warmup`` runs it in a background thread while the server
already answers ``/health`` ("warming" until done, then "ok"). The WebUI's inference runs in the API
process, so it warms through the same code; another process that holds an engine calls ``warm_up``.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from GPT_SoVITS.fileio import atomic_output
from GPT_SoVITS.inference.request import TTSRequest

log = logging.getLogger(__name__)

WARM_TEXT = {"zh": "你好，世界。", "en": "Hello, world."}  # short: a few dozen tokens
WARM_PROMPT = "你好。"


def warm_reference(path: Path, seconds: float = 4.0, sr: int = 32000) -> Path:
    """A voiced, speech-like clip (harmonics with a moving pitch, syllable gaps) inside the 3-10 s range
    a reference must have; its content does not matter, only that every stage runs on it."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(140 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * (np.sin(2 * np.pi * 2.5 * t) > -0.3)
    with atomic_output(path, suffix=".wav") as tmp:
        sf.write(tmp, (0.5 * voice / np.abs(voice).max()).astype(np.float32), sr, format="WAV")
    return path


def warm_up(engine: Any, streaming: bool = True) -> float:
    """Synthesise a short text (whole, then token-streamed) on ``engine``; returns the seconds it took.
    Raises what the engine raises (the caller decides whether a failed warm-up matters)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gsv-warmup-") as tmp:
        ref = warm_reference(Path(tmp) / "warmup.wav")
        req = TTSRequest(
            text=WARM_TEXT["zh"],
            text_lang="zh",
            ref_audio_path=str(ref),
            prompt_text=WARM_PROMPT,
            prompt_lang="zh",
            seed=0,
            max_retries=0,
        )
        engine.synthesize(req)
        if streaming:
            for _ in engine.stream(req.replace(streaming_mode=3)):
                pass
    return time.perf_counter() - start


class Warmup:
    """The start-up warm-up's state: "ok" (none running or done), "warming", or "ok" with ``error`` set
    when it failed (the server serves anyway: a failed warm-up only means a slower first request)."""

    def __init__(self) -> None:
        self.status = "ok"
        self.seconds: float | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self, engine: Any) -> threading.Thread:
        self.status = "warming"
        self._thread = threading.Thread(target=self._run, args=(engine,), name="warmup", daemon=True)
        self._thread.start()
        return self._thread

    def _run(self, engine: Any) -> None:
        log.info("warming up the decoding kernels (one short synthesis)")
        try:
            self.seconds = warm_up(engine)
            log.info("warm-up done in %.1f s", self.seconds)
        except Exception as e:  # any failure here must leave the server serving
            self.error = f"{type(e).__name__}: {e}"
            log.warning("warm-up failed (first requests will be slower): %s", self.error, exc_info=e)
        finally:
            self.status = "ok"

    def wait(self, timeout: float | None = None) -> bool:
        """True once no warm-up is running."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status == "ok"

    def describe(self) -> dict[str, Any]:
        return {"status": self.status, "warmup_s": self.seconds, "warmup_error": self.error}
