"""Request handling shared by the routes: read a body or query liberally, build a ``TTSRequest``, answer.

Liberal like the official api_v2: fields this server does not know (``return_fragment``, ``cut_punc``...)
are ignored and listed in the ``X-TTS-Ignored`` header and the log, never refused; the official api.py's
older field names are read as their api_v2 names; list fields take the same forms everywhere (a JSON
list, comma-separated text, repeated keys) and empty entries mean none; a missing auxiliary reference is
skipped with a note in ``X-TTS-Notes`` (the main reference stays strict).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from GPT_SoVITS.api import encode
from GPT_SoVITS.api.server import ServerState
from GPT_SoVITS.inference.postprocess import pack_stream_chunk
from GPT_SoVITS.inference.request import RequestError, TTSRequest

log = logging.getLogger(__name__)

KNOWN_FIELDS = {f.name for f in dataclasses.fields(TTSRequest)} | {"preset"}
LIST_FIELDS = {"aux_ref_audio_paths"}
# The official api.py (the first server) names that clients of it still send -> the api_v2 names.
ALIASES = {
    "refer_wav_path": "ref_audio_path",
    "prompt_language": "prompt_lang",
    "text_language": "text_lang",
    "inp_refs": "aux_ref_audio_paths",
    "speed": "speed_factor",
}
# The official api.py's language names (its WebUI labels) -> language codes.
LANGUAGE_NAMES = {
    "中文": "all_zh",
    "粤语": "all_yue",
    "英文": "en",
    "日文": "all_ja",
    "韩文": "all_ko",
    "中英混合": "zh",
    "粤英混合": "yue",
    "日英混合": "ja",
    "韩英混合": "ko",
    "多语种混合": "auto",
    "多语种混合(粤语)": "auto_yue",
}


@dataclass
class Parsed:
    """A validated request plus what the server decided about the input it was given."""

    request: TTSRequest
    ignored: list[str] = field(default_factory=list)  # unknown field names, dropped
    notes: list[str] = field(default_factory=list)  # aliases read, missing aux references skipped


def error(status: int, message: str, field_name: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if field_name:
        body["field"] = field_name
    return JSONResponse(status_code=status, content=body)


def header_safe(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)


def is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte: not a file
        return False


def split_list(value: Any) -> list[str]:
    """A list field's value in any accepted form -> its non-empty entries (``[""]`` and ``""`` are none)."""
    items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in items:
        text = "" if item is None else str(item)
        parts = [text] if is_file(text) else text.split(",")  # a real file name may hold a comma
        # api.py's documented GET quotes its entries: inp_refs="456.wav"
        out += [p.strip().strip("\"'") for p in parts if p.strip().strip("\"'")]
    return out


def apply_aliases(data: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    for old, new in ALIASES.items():
        if old in data:
            value = data.pop(old)
            if new not in data:
                data[new] = value
                notes.append(f"{old} read as {new}")
    for name in ("text_lang", "prompt_lang"):
        if isinstance(data.get(name), str) and data[name] in LANGUAGE_NAMES:
            data[name] = LANGUAGE_NAMES[data[name]]
    return data


def aux_paths(state: ServerState, value: Any, notes: list[str]) -> list[str]:
    """Allowed, existing auxiliary references; a missing one is skipped as the official server skips it."""
    kept = []
    for path in split_list(value):
        resolved = state.check_path("aux_ref_audio_paths", path)  # outside the roots: still refused
        if is_file(resolved):
            kept.append(resolved)
        else:
            notes.append(f"aux_ref_audio_paths: {path} not found, skipped")
    return kept


def build_request(state: ServerState, data: dict[str, Any], fallback: dict[str, Any] | None = None) -> Parsed:
    """Merge ``fallback`` < preset (if named) < the request's own fields; default reference; check paths."""
    notes: list[str] = []
    data = apply_aliases({k: v for k, v in data.items() if v is not None}, notes)
    ignored = sorted(set(data) - KNOWN_FIELDS)
    if ignored:
        log.info("ignoring unknown request fields: %s", ", ".join(ignored))
    data = {k: v for k, v in data.items() if k in KNOWN_FIELDS}
    preset_name = data.pop("preset", None)
    preset = state.presets.get(str(preset_name)).request_fields() if preset_name else {}
    data = {**(fallback or {}), **preset, **data}
    if not data.get("ref_audio_path") and state.default_ref:
        data["ref_audio_path"] = state.default_ref
    if data.get("ref_audio_path"):
        data["ref_audio_path"] = state.check_path("ref_audio_path", str(data["ref_audio_path"]))
    data["aux_ref_audio_paths"] = aux_paths(state, data.get("aux_ref_audio_paths"), notes)
    return Parsed(TTSRequest.from_mapping(data), ignored, notes)


async def synthesize_response(state: ServerState, parsed: Parsed, fmt: str | None = None) -> Response:
    """Audio bytes (whole, or streamed chunk by chunk for streaming_mode 1-3) in ``fmt`` (an
    ``encode.FORMATS`` key; default the request's media_type)."""
    req = parsed.request
    field_name = "media_type" if fmt is None else "response_format"
    fmt = fmt or req.media_type
    encode.choose(fmt, field_name)  # a missing encoder is a 400 now, not after the synthesis
    headers = {"X-TTS-Ignored": header_safe(parsed.ignored)}
    if req.stream_kind == "none":
        result = await state.run(state.engine.synthesize, req)
        body = await state.run(encode.encode, result.audio, result.sample_rate, fmt, field_name)
        headers["X-TTS-Seed"] = str(result.seed)
        headers["X-TTS-Retries"] = str(result.metadata()["retries"])
        headers["X-TTS-Notes"] = header_safe([*parsed.notes, *result.notes])
        return Response(body, media_type=encode.content_type(fmt), headers=headers)
    first, rest = await state.stream(lambda: state.engine.stream(req))
    headers["X-TTS-Notes"] = header_safe(parsed.notes)

    async def chunks() -> AsyncIterator[bytes]:
        yield stream_chunk(first.audio, first.sample_rate, fmt, True)
        async for chunk in rest:
            yield stream_chunk(chunk.audio, chunk.sample_rate, fmt, False)

    return StreamingResponse(chunks(), media_type=encode.content_type(fmt), headers=headers)


def stream_chunk(wav: Any, sr: int, fmt: str, first: bool) -> bytes:
    """A wav stream is one header then raw frames (as the official); other formats send each chunk as
    plain samples (raw, pcm) or a small complete file (ogg, aac, mp3...)."""
    if fmt == "wav":
        return pack_stream_chunk(wav, sr, fmt, first)
    return encode.encode(wav, sr, fmt)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestError("body", f"not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise RequestError("body", "must be a JSON object")
    return data


def query_dict(request: Request) -> dict[str, Any]:
    """Query parameters; list fields keep every repeated key (``?aux=a&aux=b``), others the last value."""
    q = request.query_params
    return {k: (q.getlist(k) if k in LIST_FIELDS | {"inp_refs"} else q[k]) for k in q}


async def form_dict(request: Request, state: ServerState) -> tuple[dict[str, Any], list[str]]:
    """Form fields, with uploaded files stored; returns (fields, stored paths of aux uploads)."""
    form = await request.form()
    fields: dict[str, Any] = {}
    aux: list[str] = []
    for key, value in form.multi_items():
        if hasattr(value, "read"):  # an UploadFile
            path = state.save_upload(await value.read(), value.filename or "")
            if key in ("ref_audio", "ref_audio_path", "file"):
                fields["ref_audio_path"] = path
            elif key.startswith("aux"):
                aux.append(path)
            else:
                raise RequestError(key, "unexpected file field (use ref_audio or aux_ref_audio)")
        elif key in LIST_FIELDS:
            fields.setdefault(key, []).append(value)
        else:
            fields[key] = value
    return fields, aux


def schedule_exit(restart_argv: list[str] | None = None) -> None:
    """Exit (or re-exec with ``restart_argv``) shortly after the current response is sent."""

    def later() -> None:
        if restart_argv:
            os.execv(restart_argv[0], restart_argv)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Timer(0.3, later).start()
