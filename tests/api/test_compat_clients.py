"""Drop-in compatibility: the requests well-known clients send, replayed against a real server.

Each request shape is written from the client's documented behaviour, not from our implementation:
- the official api_v2.py docstring: its GET example and its POST body with every field at the documented
  default; ``streaming_mode`` 0-3 (0/False whole file, 1/True per segment, 2 and 3 token chunks); the
  weight-switch routes ``/set_gpt_weights`` and ``/set_sovits_weights`` answering {"message": "success"};
- a chat bot's all-defaults GET, every value a string ("true"/"false"), with ``return_fragment``,
  ``cut_punc`` and an empty ``aux_ref_audio_paths=`` that api_v2 tolerates;
- a device server's POST in the official api.py (first server) format: ``refer_wav_path``,
  ``prompt_language``, ``text_language``, ``cut_punc``, ``speed``, ``inp_refs``;
- the OpenAI SDK's ``audio.speech.create``: POST /v1/audio/speech {"model", "input", "voice",
  "response_format", "speed"}, ``Authorization: Bearer`` and ``Accept: application/octet-stream``, for
  every documented format (mp3 when the field is omitted; pcm is 24 kHz 16-bit headerless).
Every answer is checked for status, content type and audio that decodes (mp3/opus/aac through ffmpeg).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.api.conftest import Server
from tests.conftest import require_tool

TEXT = "你好，世界。明天见！"
PROMPT = "今天天气很好。"
OPENAI_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


def ffmpeg_decode(data: bytes) -> tuple[np.ndarray, int]:
    """Any container ffmpeg reads -> (int16 mono samples, sample rate)."""
    ffprobe = require_tool("ffprobe")
    probe = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "stream=sample_rate", "-of", "csv=p=0", "-"],
        input=data,
        capture_output=True,
        check=True,
    )
    cmd = [require_tool("ffmpeg"), "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "pipe:1"]
    pcm = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    return np.frombuffer(pcm, np.int16), int(probe.stdout.decode().split()[0])


def wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    wav, sr = sf.read(io.BytesIO(data), dtype="int16")
    return wav, sr


def assert_speech(samples: np.ndarray, sr: int, seconds: float | None = None) -> None:
    """Decoded, non-silent audio (and about ``seconds`` long when given; codecs pad a few ms)."""
    assert len(samples) > sr // 10 and np.abs(samples).max() > 10
    if seconds is not None:
        assert abs(len(samples) / sr - seconds) < 0.12, (len(samples) / sr, seconds)


def test_api_v2_docstring_get_example(server: Server, refs: dict[str, Path]) -> None:
    params = {
        "text": TEXT,
        "text_lang": "zh",
        "ref_audio_path": str(refs["zh"]),
        "prompt_lang": "zh",
        "prompt_text": PROMPT,
        "text_split_method": "cut5",
        "batch_size": "1",
        "media_type": "wav",
        "streaming_mode": "true",
    }
    with server.get("/tts", params=params, stream=True) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        data = b"".join(r.iter_content(chunk_size=None))
    assert_speech(*wav_samples(data))


def docstring_post_body(refs: dict[str, Path], **kw) -> dict:
    """api_v2's documented POST body, every field at its documented default (seed fixed to compare)."""
    return {
        "text": TEXT,
        "text_lang": "zh",
        "ref_audio_path": str(refs["zh"]),
        "aux_ref_audio_paths": [],
        "prompt_text": PROMPT,
        "prompt_lang": "zh",
        "top_k": 15,
        "top_p": 1,
        "temperature": 1,
        "text_split_method": "cut5",
        "batch_size": 1,
        "batch_threshold": 0.75,
        "split_bucket": True,
        "speed_factor": 1.0,
        "fragment_interval": 0.3,
        "seed": 7,
        "parallel_infer": True,
        "repetition_penalty": 1.35,
        "sample_steps": 32,
        "super_sampling": False,
        "streaming_mode": False,
        "overlap_length": 2,
        "min_chunk_length": 16,
        **kw,
    }


def test_api_v2_docstring_post_with_every_field(server: Server, refs: dict[str, Path]) -> None:
    r = server.post("/tts", json=docstring_post_body(refs))
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", r.text
    assert r.headers["x-tts-ignored"] == "[]"
    samples, sr = wav_samples(r.content)
    assert sr == 32000
    assert_speech(samples, sr)


@pytest.mark.parametrize("mode", [0, 1, 2, 3, False, True])
def test_api_v2_streaming_modes(server: Server, refs: dict[str, Path], mode: int | bool) -> None:
    body = docstring_post_body(refs, streaming_mode=mode, text="今天天气很好，我们去公园散步吧。明天见！")
    with server.post("/tts", json=body, stream=True) as r:
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", r.text
        chunked = r.headers.get("transfer-encoding") == "chunked"
        data = b"".join(r.iter_content(chunk_size=None))
    assert chunked == bool(mode)  # 0/False: one whole file; 1-3/True: a chunked stream
    assert_speech(*wav_samples(data))


def test_api_v2_weight_switch_routes(server: Server, refs: dict[str, Path], golden_models) -> None:
    for route, path in (("/set_gpt_weights", golden_models[0]), ("/set_sovits_weights", golden_models[1])):
        r = server.get(route, params={"weights_path": str(path)})
        assert r.status_code == 200 and r.json() == {"message": "success"}, r.text
    after = server.post("/tts", json=docstring_post_body(refs))
    assert after.status_code == 200 and after.headers["content-type"] == "audio/wav"
    assert_speech(*wav_samples(after.content))


def test_bot_all_defaults_stringified_get(server: Server, refs: dict[str, Path]) -> None:
    params = {
        k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in docstring_post_body(refs).items()
    }
    params |= {"aux_ref_audio_paths": "", "return_fragment": "false", "cut_punc": "，。", "media_type": "wav"}
    r = server.get("/tts", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", r.text
    assert r.headers["x-tts-ignored"] == '["cut_punc", "return_fragment"]'
    # The same request as JSON numbers and booleans gives the same audio (same seed).
    assert r.content == server.post("/tts", json=docstring_post_body(refs)).content


def test_device_server_post_with_legacy_api_py_fields(server: Server, refs: dict[str, Path]) -> None:
    legacy = {
        "refer_wav_path": str(refs["zh"]),
        "prompt_text": PROMPT,
        "prompt_language": "zh",
        "text": TEXT,
        "text_language": "zh",
        "cut_punc": "，。",
        "top_k": 15,
        "top_p": 1,
        "temperature": 1,
        "speed": 1,
        "inp_refs": [],
    }
    for route in ("/", "/tts"):
        r = server.post(route, json=legacy)
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", r.text
        assert "refer_wav_path read as ref_audio_path" in r.headers["x-tts-notes"]
        assert_speech(*wav_samples(r.content))


def test_aux_references_empty_missing_and_list_forms(server: Server, refs: dict[str, Path]) -> None:
    base = docstring_post_body(refs)
    alone = server.post("/tts", json=base).content
    for empty in ([], [""], ""):
        assert server.post("/tts", json={**base, "aux_ref_audio_paths": empty}).content == alone
    missing = server.post("/tts", json={**base, "aux_ref_audio_paths": [str(refs["zh"].with_name("x.wav"))]})
    assert missing.status_code == 200 and "x.wav not found, skipped" in missing.headers["x-tts-notes"]
    assert missing.content == alone
    a, b = str(refs["voice_a"]), str(refs["voice_b"])
    get_params = {k: v for k, v in base.items() if k != "aux_ref_audio_paths"}
    answers = [
        server.post("/tts", json={**base, "aux_ref_audio_paths": [a, b]}),
        server.post("/tts", json={**base, "aux_ref_audio_paths": f"{a},{b}"}),
        server.get(
            "/tts", params=[*get_params.items(), ("aux_ref_audio_paths", a), ("aux_ref_audio_paths", b)]
        ),
        server.get("/tts", params={**get_params, "aux_ref_audio_paths": f"{a},{b}"}),
    ]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert len({r.content for r in answers}) == 1 and answers[0].content != alone  # aux used, same way


def test_bearer_scheme_in_any_case(server: Server, refs: dict[str, Path]) -> None:
    for scheme in ("bearer", "BEARER", "Bearer"):
        headers = {"Authorization": f"{scheme} {server.token}"}
        assert server.post("/tts", json=docstring_post_body(refs), headers=headers).status_code == 200
    wrong = server.post("/tts", json=docstring_post_body(refs), headers={"Authorization": "bearer nope"})
    assert wrong.status_code == 401


@pytest.fixture(scope="module")
def openai_voice(server: Server, refs: dict[str, Path]) -> str:
    """A preset named like an OpenAI voice, as a user would name one for a client that sends "alloy"."""
    with open(refs["voice_a"], "rb") as f:
        r = server.post(
            "/voices/alloy",
            files={"ref_audio": ("alloy.wav", f, "audio/wav")},
            data={"prompt_text": PROMPT, "prompt_lang": "zh", "knobs": '{"text_lang": "zh", "seed": 3}'},
        )
    assert r.status_code == 200, r.text
    return "alloy"


def openai_speech(server: Server, voice: str, fmt: str | None) -> tuple:
    """The request the OpenAI SDK's ``client.audio.speech.create(...)`` sends."""
    body = {"input": TEXT, "model": "tts-1", "voice": voice, "speed": 1.0}
    if fmt is not None:
        body["response_format"] = fmt
    headers = {"Accept": "application/octet-stream", "Content-Type": "application/json"}
    return server.post("/v1/audio/speech", json=body, headers=headers)


def test_openai_sdk_speech_every_format(server: Server, openai_voice: str) -> None:
    wav = openai_speech(server, openai_voice, "wav")
    assert wav.status_code == 200 and wav.headers["content-type"] == OPENAI_TYPES["wav"], wav.text
    ref, sr = wav_samples(wav.content)
    seconds = len(ref) / sr
    for fmt in ("mp3", "opus", "aac", "flac", "pcm", None):
        r = openai_speech(server, openai_voice, fmt)
        assert r.status_code == 200, (fmt, r.text)
        assert r.headers["content-type"] == OPENAI_TYPES[fmt or "mp3"], fmt  # omitted: OpenAI's mp3
        if fmt == "pcm":
            samples, rate = np.frombuffer(r.content, np.int16), 24000  # documented: 24 kHz, no header
        else:
            samples, rate = ffmpeg_decode(r.content)
        assert rate == {"opus": 48000, "pcm": 24000}.get(fmt or "mp3", 32000), (fmt, rate)
        # mp3 and aac encoders add up to ~0.1 s of priming and padding
        assert_speech(samples, rate, seconds + (0.05 if fmt in ("mp3", None, "aac") else 0.0))
