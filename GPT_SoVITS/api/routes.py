"""The HTTP routes. Official api_v2: /tts (GET, POST), /set_gpt_weights, /set_sovits_weights,
/set_refer_audio, /control. Added: /health, /references (upload), /tts/upload (one-shot multipart),
/voices (presets), /v1/audio/speech (OpenAI style). Handlers' shared work lives in ``handlers``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from GPT_SoVITS.api import encode
from GPT_SoVITS.api.handlers import (
    build_request,
    error,
    form_dict,
    json_body,
    query_dict,
    schedule_exit,
    synthesize_response,
)
from GPT_SoVITS.api.server import ServerState
from GPT_SoVITS.inference.request import RequestError

# OpenAI's response formats (the field is optional; mp3 is OpenAI's default).
OPENAI_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
OPENAI_DEFAULT_FORMAT = "mp3"


def install_routes(app: FastAPI, state: ServerState) -> None:
    engine = state.engine

    @app.get("/health")
    async def health() -> dict:
        """``status`` is "warming" while the start-up warm-up runs, then "ok"."""
        return {**state.warmup.describe(), "queued": state.admission.count, **engine.describe()}

    @app.api_route("/tts", methods=["GET", "POST"])
    @app.api_route("/", methods=["GET", "POST"])  # the official api.py's route (its fields are aliased)
    async def tts(request: Request) -> Response:
        data = query_dict(request) if request.method == "GET" else await json_body(request)
        return await synthesize_response(state, build_request(state, data))

    @app.post("/tts/upload")
    async def tts_upload(request: Request) -> Response:
        fields, aux = await form_dict(request, state)
        if aux:
            fields["aux_ref_audio_paths"] = [*fields.get("aux_ref_audio_paths", []), *aux]
        return await synthesize_response(state, build_request(state, fields))

    @app.post("/references")
    async def upload_reference(request: Request) -> dict:
        fields, aux = await form_dict(request, state)
        if "ref_audio_path" not in fields:
            raise RequestError("ref_audio", "no file uploaded (multipart field 'ref_audio')")
        return {"ref_audio_path": fields["ref_audio_path"], "aux_ref_audio_paths": aux}

    @app.get("/set_refer_audio")
    async def set_refer_audio(refer_audio_path: str = "") -> JSONResponse:
        path = state.check_path("refer_audio_path", refer_audio_path)
        await state.run(engine.prepare_reference, path)  # validates and warms the cache
        state.default_ref = path
        return JSONResponse({"message": "success"})

    @app.get("/set_gpt_weights")
    async def set_gpt_weights(weights_path: str = "") -> JSONResponse:
        await state.run(engine.set_gpt_weights, state.check_path("weights_path", weights_path))
        return JSONResponse({"message": "success"})

    @app.get("/set_sovits_weights")
    async def set_sovits_weights(weights_path: str = "") -> JSONResponse:
        await state.run(engine.set_sovits_weights, state.check_path("weights_path", weights_path))
        return JSONResponse({"message": "success"})

    @app.api_route("/control", methods=["GET", "POST"])
    async def control(request: Request) -> JSONResponse:
        data = query_dict(request) if request.method == "GET" else await json_body(request)
        command = data.get("command")
        if command not in ("restart", "exit"):
            return error(400, "command: must be 'restart' or 'exit'", "command")
        restart = [sys.executable, "-m", "GPT_SoVITS.api", *sys.argv[1:]] if command == "restart" else None
        schedule_exit(restart)
        return JSONResponse({"message": f"{command} scheduled"})

    install_voice_routes(app, state)


def install_voice_routes(app: FastAPI, state: ServerState) -> None:
    @app.get("/voices")
    async def list_voices() -> dict:
        return {"voices": state.presets.names()}

    @app.get("/voices/{name}")
    async def get_voice(name: str) -> dict:
        return state.presets.get(name).public()

    @app.delete("/voices/{name}")
    async def delete_voice(name: str) -> dict:
        state.presets.delete(name)
        return {"message": "deleted"}

    @app.post("/voices/{name}")
    async def save_voice(name: str, request: Request) -> dict:
        """Multipart: ref_audio (file) or ref_audio_path (an allowed path), prompt_text, prompt_lang,
        aux_ref_audio files, knobs (a JSON object of request defaults, e.g. {"text_lang": "zh"})."""
        fields, aux = await form_dict(request, state)
        ref = fields.get("ref_audio_path")
        if not ref:
            raise RequestError("ref_audio", "a reference file or ref_audio_path is required")
        ref = state.check_path("ref_audio_path", ref)
        try:
            knobs = json.loads(fields.get("knobs") or "{}")
        except json.JSONDecodeError as e:
            raise RequestError("knobs", f"not valid JSON: {e}") from e
        if not isinstance(knobs, dict):
            raise RequestError("knobs", "must be a JSON object")
        await state.run(state.engine.prepare_reference, ref)  # refuse unusable audio now, not at first use
        preset = state.presets.save(
            name,
            Path(ref),
            fields.get("prompt_text", ""),
            fields.get("prompt_lang", ""),
            [Path(a) for a in aux],
            knobs,
        )
        return preset.public()

    @app.post("/v1/audio/speech")
    async def openai_speech(request: Request) -> Response:
        """OpenAI-style: {"model", "input", "voice" (a preset), "response_format", "speed"}; extra keys
        are request fields (e.g. "text_lang", "seed")."""
        body = await json_body(request)
        body.pop("model", None)
        if "input" not in body:
            raise RequestError("input", "is required")
        if not body.get("voice"):
            raise RequestError("voice", "is required (the name of a preset)")
        fmt = str(body.pop("response_format", None) or OPENAI_DEFAULT_FORMAT).lower()
        if fmt not in OPENAI_FORMATS:
            raise RequestError("response_format", f"unsupported {fmt!r} (use {', '.join(OPENAI_FORMATS)})")
        encode.choose(fmt)  # a missing encoder: 400 naming it, before any synthesis
        voice = str(body.pop("voice"))
        data = {"text": body.pop("input"), "preset": voice}
        # A client's stock voice ("alloy") that names no preset: the reference set by /set_refer_audio
        stock = state.default_ref is not None and voice not in state.presets.names()
        if stock:
            data.pop("preset")
        if "speed" in body:
            data["speed_factor"] = body.pop("speed")
        data.update(body)
        parsed = build_request(state, data, fallback={"text_lang": "auto"})
        if stock:
            parsed.notes.append(f"voice {voice!r} is no preset: the default reference was used")
        return await synthesize_response(state, parsed, fmt)
