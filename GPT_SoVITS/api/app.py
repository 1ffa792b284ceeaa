"""FastAPI application: the official api_v2 routes plus uploads, presets, OpenAI-style speech and auth.

Every bad input answers HTTP 400 with ``{"message": ..., "field": ...}``; a full queue answers 429; an
unexpected failure answers 500 and the server keeps serving.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from GPT_SoVITS.api.server import QueueFull, ServerState
from GPT_SoVITS.inference.postprocess import MEDIA_CONTENT_TYPES, pack_audio, pack_stream_chunk
from GPT_SoVITS.inference.request import TTSRequest

log = logging.getLogger(__name__)


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if field:
        body["field"] = field
    return JSONResponse(status_code=status, content=body)


def _header_safe(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)


def build_request(
    state: ServerState, data: dict[str, Any], fallback: dict[str, Any] | None = None
) -> TTSRequest:
    """Merge ``fallback`` < preset (if named) < the request's own fields; default reference; check paths."""
    data = {k: v for k, v in data.items() if v is not None}
    preset_name = data.pop("preset", None)
    preset = state.presets.get(str(preset_name)).request_fields() if preset_name else {}
    data = {**(fallback or {}), **preset, **data}
    if not data.get("ref_audio_path") and state.default_ref:
        data["ref_audio_path"] = state.default_ref
    if data.get("ref_audio_path"):
        data["ref_audio_path"] = state.check_path("ref_audio_path", str(data["ref_audio_path"]))
    aux = data.get("aux_ref_audio_paths") or []
    if isinstance(aux, str):
        aux = [p for p in aux.split(",") if p]
    data["aux_ref_audio_paths"] = [state.check_path("aux_ref_audio_paths", str(p)) for p in aux]
    return TTSRequest.from_mapping(data)


async def synthesize_response(state: ServerState, req: TTSRequest) -> Response:
    """Audio bytes (whole, or streamed chunk by chunk for streaming_mode 1-3)."""
    media = req.media_type
    if req.stream_kind == "none":
        result = await state.run(state.engine.synthesize, req)
        body = await state.run(pack_audio, result.audio, result.sample_rate, media)
        meta = result.metadata()
        headers = {
            "X-TTS-Seed": str(result.seed),
            "X-TTS-Retries": str(meta["retries"]),
            "X-TTS-Notes": _header_safe(result.notes),
        }
        return Response(body, media_type=MEDIA_CONTENT_TYPES[media], headers=headers)
    first, rest = await state.stream(lambda: state.engine.stream(req))

    async def chunks() -> AsyncIterator[bytes]:
        yield pack_stream_chunk(first.audio, first.sample_rate, media, True)
        async for chunk in rest:
            yield pack_stream_chunk(chunk.audio, chunk.sample_rate, media, False)

    return StreamingResponse(chunks(), media_type=MEDIA_CONTENT_TYPES[media])


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueueFull)
    async def _busy(_: Request, e: QueueFull) -> JSONResponse:
        return error(429, str(e))

    @app.exception_handler(
        ValueError
    )  # RequestError, AudioError, CheckpointError, EngineError, PresetError...
    async def _bad(_: Request, e: ValueError) -> JSONResponse:
        return error(400, str(e), getattr(e, "field", None))

    @app.exception_handler(FileNotFoundError)
    async def _missing(_: Request, e: FileNotFoundError) -> JSONResponse:
        return error(400, f"file not found: {e.filename or e}")

    @app.exception_handler(Exception)
    async def _crash(_: Request, e: Exception) -> JSONResponse:
        log.exception("request failed")
        return error(500, f"synthesis failed: {type(e).__name__}: {e}")


def install_auth(app: FastAPI, state: ServerState) -> None:
    @app.middleware("http")
    async def _bearer(request: Request, call_next):
        given = request.headers.get("authorization", "").encode()
        authorised = hmac.compare_digest(given, f"Bearer {state.token}".encode())
        if state.token and request.url.path != "/health" and not authorised:
            return error(401, "missing or wrong bearer token")
        return await call_next(request)


def create_app(state: ServerState) -> FastAPI:
    from GPT_SoVITS.api.routes import install_routes

    app = FastAPI(title="GPT-SoVITS API", version="2")
    app.state.tts = state
    install_error_handlers(app)
    install_auth(app, state)
    install_routes(app, state)
    return app


def schedule_exit(restart_argv: list[str] | None = None) -> None:
    """Exit (or re-exec with ``restart_argv``) shortly after the current response is sent."""

    def later() -> None:
        if restart_argv:
            os.execv(restart_argv[0], restart_argv)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Timer(0.3, later).start()
