"""FastAPI application: the official api_v2 routes plus uploads, presets, OpenAI-style speech and auth.

Errors: input the user can fix (a ``GPT_SoVITS.errors.UserError``) answers HTTP 400 with
``{"message": ..., "field": ...}``; a full queue answers 429 with ``Retry-After``; anything else is a bug
in the server: HTTP 500, logged with its traceback, and the server keeps serving.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from GPT_SoVITS.api.handlers import error
from GPT_SoVITS.api.routes import install_routes
from GPT_SoVITS.api.server import QueueFull, ServerState
from GPT_SoVITS.errors import UserError

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(QueueFull)
    async def _busy(_: Request, e: QueueFull) -> JSONResponse:
        response = error(429, str(e))
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(UserError)  # RequestError, AudioError, CheckpointError, PresetError...
    async def _bad(_: Request, e: UserError) -> JSONResponse:
        return error(400, str(e), e.field)

    @app.exception_handler(Exception)
    async def _crash(request: Request, e: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=e)
        return error(500, f"internal server error: {type(e).__name__}: {e}")


def bearer_matches(header: str, token: str) -> bool:
    """``Authorization: <scheme> <token>`` with the scheme "Bearer" in any case (RFC 7235); the token is
    compared in constant time."""
    scheme, _, given = header.strip().partition(" ")
    same = hmac.compare_digest(given.strip().encode(), token.encode())
    return same and scheme.lower() == "bearer"


def install_auth(app: FastAPI, state: ServerState) -> None:
    @app.middleware("http")
    async def _bearer(request: Request, call_next):
        header = request.headers.get("authorization", "")
        if state.token and request.url.path != "/health" and not bearer_matches(header, state.token):
            return error(401, "missing or wrong bearer token")
        return await call_next(request)


def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(title="GPT-SoVITS API", version="2")
    app.state.tts = state
    install_error_handlers(app)
    install_auth(app, state)
    install_routes(app, state)
    return app
