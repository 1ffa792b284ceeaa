"""The HTTP API over real loopback HTTP: api_v2 routes, uploads, presets, OpenAI speech, errors, queue."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from tests.api.conftest import Server, start_server, stop_server

TEXT = "你好，世界。明天见！"


def tts_body(refs: dict[str, Path], **kw) -> dict:
    return {
        "text": TEXT,
        "text_lang": "zh",
        "ref_audio_path": str(refs["zh"]),
        "prompt_text": "今天天气很好。",
        "prompt_lang": "zh",
        "seed": 5,
        "max_retries": 0,
        **kw,
    }


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    return sf.read(io.BytesIO(data), dtype="int16")


def test_auth_health_and_get_post(server: Server, refs: dict[str, Path]) -> None:
    health = requests.get(server.url + "/health", timeout=10).json()
    assert health["status"] == "ok" and health["sample_rate"] == 32000
    denied = requests.post(server.url + "/tts", json=tts_body(refs), timeout=60)
    assert denied.status_code == 401 and "token" in denied.json()["message"]
    post = server.post("/tts", json=tts_body(refs))
    assert post.status_code == 200 and post.headers["content-type"] == "audio/wav"
    assert post.headers["x-tts-seed"] == "5"
    wav, sr = decode_wav(post.content)
    assert sr == 32000 and len(wav) > 3200 and np.abs(wav).max() > 10
    get = server.get("/tts", params=tts_body(refs))
    assert get.status_code == 200 and get.content == post.content  # same seed, same bytes


@pytest.mark.slow
def test_media_types_and_streaming(server: Server, refs: dict[str, Path]) -> None:
    whole = server.post("/tts", json=tts_body(refs)).content
    pcm = decode_wav(whole)[0]
    raw = server.post("/tts", json=tts_body(refs, media_type="raw")).content
    assert np.array_equal(np.frombuffer(raw, np.int16), pcm)
    ogg = server.post("/tts", json=tts_body(refs, media_type="ogg"))
    assert (
        ogg.headers["content-type"] == "audio/ogg"
        and abs(len(sf.read(io.BytesIO(ogg.content))[0]) - len(pcm)) < 2000
    )
    aac = server.post("/tts", json=tts_body(refs, media_type="aac"))
    assert aac.status_code == 200 and len(aac.content) > 100
    # Per-segment streaming: chunked transfer, one wav header, the same samples as the whole response.
    long_text = "今天天气很好，我们去公园散步吧。明天见！"
    pcm = decode_wav(server.post("/tts", json=tts_body(refs, text=long_text)).content)[0]
    with server.post("/tts", json=tts_body(refs, text=long_text, streaming_mode=1), stream=True) as r:
        parts = [c for c in r.iter_content(chunk_size=None) if c]
    assert len(parts) >= 2 and np.array_equal(decode_wav(b"".join(parts))[0], pcm)
    body = tts_body(refs, text=long_text, streaming_mode=3, min_chunk_length=6)
    with server.post("/tts", json=body, stream=True) as r:
        parts = [c for c in r.iter_content(chunk_size=None) if c]
    streamed = decode_wav(b"".join(parts))[0]
    assert len(parts) >= 3 and len(streamed) > 0


def make_presets(server: Server, refs: dict[str, Path]) -> None:
    for name, ref, seed in (("alice", refs["voice_a"], 11), ("bob", refs["voice_b"], 12)):
        knobs = {"text_lang": "zh", "seed": seed, "max_retries": 0}
        with open(ref, "rb") as f:
            r = server.post(
                f"/voices/{name}",
                files={"ref_audio": (ref.name, f, "audio/wav")},
                data={"prompt_text": "今天天气很好。", "prompt_lang": "zh", "knobs": json.dumps(knobs)},
            )
        assert r.status_code == 200, r.text
        assert r.json()["knobs"] == knobs


def test_upload_presets_and_openai_speech(server: Server, refs: dict[str, Path]) -> None:
    make_presets(server, refs)
    assert {"alice", "bob"} <= set(server.get("/voices").json()["voices"])
    alice = server.post("/tts", json={"text": TEXT, "preset": "alice"})
    assert alice.status_code == 200 and alice.headers["x-tts-seed"] == "11"
    speech = server.post(
        "/v1/audio/speech",
        json={"model": "gpt-sovits", "input": TEXT, "voice": "bob", "response_format": "wav"},
    )
    assert speech.status_code == 200 and decode_wav(speech.content)[1] == 32000
    # OpenAI's pcm: headerless int16 at 24 kHz (the 32 kHz model output resampled)
    pcm = server.post("/v1/audio/speech", json={"input": TEXT, "voice": "bob", "response_format": "pcm"})
    assert pcm.headers["content-type"] == "audio/pcm"
    assert abs(len(pcm.content) // 2 - (len(speech.content) - 44) // 2 * 3 // 4) < 10
    # One-shot multipart: the reference travels with the request, no server path needed.
    with open(refs["voice_a"], "rb") as f:
        upload = server.post(
            "/tts/upload",
            files={"ref_audio": ("a.wav", f, "audio/wav")},
            data={
                "text": TEXT,
                "text_lang": "zh",
                "prompt_text": "今天天气很好。",
                "prompt_lang": "zh",
                "seed": "11",
                "max_retries": "0",
            },
        )
    assert upload.status_code == 200 and upload.content == alice.content
    # Official /set_refer_audio: later requests without ref_audio_path use that reference.
    assert (
        server.get("/set_refer_audio", params={"refer_audio_path": str(refs["voice_a"])}).status_code == 200
    )
    body = {
        "text": TEXT,
        "text_lang": "zh",
        "prompt_text": "今天天气很好。",
        "prompt_lang": "zh",
        "seed": 11,
        "max_retries": 0,
    }
    assert server.post("/tts", json=body).content == alice.content


BAD = [
    ("missing reference", {"ref_audio_path": "MISSING"}, "not found"),
    ("corrupt reference", {"ref_audio_path": "corrupt"}, "corrupt.wav"),
    ("silent reference", {"ref_audio_path": "silent"}, "silent"),
    ("odd-rate reference", {"ref_audio_path": "odd_rate"}, "sample rate"),
    ("empty text", {"text": ""}, "text"),
    ("unsupported language", {"text_lang": "xx"}, "text_lang"),
    ("outside roots", {"ref_audio_path": "/etc/hostname"}, "allowed roots"),
    ("unknown preset", {"preset": "nobody"}, "unknown preset"),
    ("bad number", {"top_k": "many"}, "top_k"),
]


def test_bad_input_gives_400_and_the_server_keeps_serving(
    server: Server, refs: dict[str, Path], golden_models
) -> None:
    for label, change, reason in BAD:
        body = tts_body(refs, **change)
        ref = change.get("ref_audio_path")
        if ref in refs:
            body["ref_audio_path"] = str(refs[ref])
        elif ref == "MISSING":
            body["ref_audio_path"] = str(refs["zh"].with_name("absent.wav"))
        r = server.post("/tts", json=body)
        assert r.status_code == 400, (label, r.status_code, r.text)
        assert reason in r.json()["message"], (label, r.json())
    wrong = server.get("/set_gpt_weights", params={"weights_path": str(golden_models[1])})
    # The message names the file (resolved, so compare the name: ../shared may be a symlink).
    assert wrong.status_code == 400 and golden_models[1].name in wrong.json()["message"]
    not_json = server.post("/tts", data=b"{not json", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["field"] == "body"
    assert server.post("/tts", json=tts_body(refs)).status_code == 200


@pytest.mark.slow
def test_weight_switch_and_full_queue(tmp_path: Path, golden_models, bert_dir, hubert_dir, refs) -> None:
    srv = start_server(
        tmp_path,
        golden_models,
        bert_dir,
        hubert_dir,
        [refs["zh"].parent, golden_models[0].parent],
        "--max-queue",
        "1",
    )
    try:
        ok = srv.get("/set_sovits_weights", params={"weights_path": str(golden_models[1])})
        assert ok.status_code == 200 and ok.json()["message"] == "success"
        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = [
                r.status_code for r in pool.map(lambda _: srv.post("/tts", json=tts_body(refs)), range(6))
            ]
        assert 429 in codes and 200 in codes, codes
        assert srv.post("/tts", json=tts_body(refs)).status_code == 200
    finally:
        stop_server(srv)
