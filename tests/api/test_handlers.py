"""The API's request handling in-process (FastAPI TestClient) with a stand-in engine: what is tolerated,
what is a 400 naming the field, what is a logged 500, bearer parsing, encoder detection, warm-up state.

The stand-in engine answers a tone whose pitch depends on the reference file, so a test can tell which
reference a request reached; the real engine runs in test_api.py and test_compat_clients.py.
"""

from __future__ import annotations

import io
import logging
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from GPT_SoVITS.api import encode
from GPT_SoVITS.api.app import bearer_matches, create_app
from GPT_SoVITS.api.handlers import split_list
from GPT_SoVITS.api.presets import PresetStore
from GPT_SoVITS.api.server import ServerState
from GPT_SoVITS.api.warmup import Warmup
from GPT_SoVITS.inference.request import TTSRequest
from GPT_SoVITS.inference.results import AudioChunk, EngineError, SynthesisResult

SR = 32000


class ToneEngine:
    """Answers 0.5 s of a tone pitched by the reference's name; ``fail`` makes synthesis raise it."""

    def __init__(self) -> None:
        self.requests: list[TTSRequest] = []
        self.fail: Exception | None = None

    def describe(self) -> dict:
        return {"sample_rate": SR}

    def prepare_reference(self, path: str) -> None:
        assert Path(path).is_file()

    def tone(self, req: TTSRequest) -> np.ndarray:
        f0 = 100 + zlib.crc32(Path(req.ref_audio_path).name.encode()) % 400
        t = np.arange(SR // 2) / SR
        return (0.4 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)

    def synthesize(self, req: TTSRequest) -> SynthesisResult:
        self.requests.append(req)
        if self.fail:
            raise self.fail
        return SynthesisResult(SR, self.tone(req), max(req.seed, 0), [], [], {})

    def stream(self, req: TTSRequest):
        wav = self.synthesize(req).audio
        yield AudioChunk(SR, wav[: SR // 4], 0, False)
        yield AudioChunk(SR, wav[SR // 4 :], 0, True)


@pytest.fixture()
def api(tmp_path: Path) -> tuple[TestClient, ToneEngine, Path]:
    ref = tmp_path / "ref.wav"
    sf.write(ref, np.zeros(SR), SR)
    engine = ToneEngine()
    state = ServerState(engine, [tmp_path], tmp_path / "uploads", PresetStore(tmp_path / "presets"), "tok")
    client = TestClient(create_app(state), raise_server_exceptions=False)
    client.headers["Authorization"] = "Bearer tok"
    return client, engine, ref


def body(ref: Path, **kw) -> dict:
    return {"text": "你好。", "text_lang": "zh", "ref_audio_path": str(ref), "prompt_lang": "zh", **kw}


def test_unknown_fields_are_ignored_and_listed(api) -> None:
    client, _, ref = api
    r = client.post("/tts", json=body(ref, return_fragment=True, cut_punc="，。", fancy={"a": 1}))
    assert r.status_code == 200, r.text
    assert r.headers["x-tts-ignored"] == '["cut_punc", "fancy", "return_fragment"]'
    g = client.get("/tts", params=body(ref, cut_punc="，。"))
    assert g.status_code == 200 and g.headers["x-tts-ignored"] == '["cut_punc"]'
    assert g.content == r.content


def test_list_forms_are_the_same_in_get_post_and_form(api, tmp_path: Path) -> None:
    client, engine, ref = api
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    for p in (a, b):
        sf.write(p, np.zeros(SR), SR)
    repeated = [*body(ref).items(), ("aux_ref_audio_paths", str(a)), ("aux_ref_audio_paths", str(b))]
    forms = [
        client.get("/tts", params=repeated),
        client.get("/tts", params=body(ref, aux_ref_audio_paths=f"{a},{b}")),
        client.post("/tts", json=body(ref, aux_ref_audio_paths=[str(a), str(b)])),
        client.post("/tts", json=body(ref, aux_ref_audio_paths=f"{a},{b}")),
        client.post("/tts/upload", data={**body(ref), "aux_ref_audio_paths": [str(a), str(b)]}),
    ]
    assert [r.status_code for r in forms] == [200] * 5
    assert all(req.aux_ref_audio_paths == (str(a), str(b)) for req in engine.requests)
    engine.requests.clear()
    empties = [
        client.get("/tts", params={**body(ref), "aux_ref_audio_paths": ""}),
        client.post("/tts", json=body(ref, aux_ref_audio_paths=[])),
        client.post("/tts", json=body(ref, aux_ref_audio_paths=[""])),
    ]
    assert [r.status_code for r in empties] == [200] * 3
    assert all(req.aux_ref_audio_paths == () for req in engine.requests)


def test_missing_aux_is_skipped_with_a_note_but_main_reference_is_strict(api, tmp_path: Path) -> None:
    client, engine, ref = api
    r = client.post("/tts", json=body(ref, aux_ref_audio_paths=[str(tmp_path / "gone.wav")]))
    assert r.status_code == 200 and "gone.wav not found, skipped" in r.headers["x-tts-notes"]
    assert engine.requests[-1].aux_ref_audio_paths == ()
    outside = client.post("/tts", json=body(ref, aux_ref_audio_paths=["/etc/hostname"]))
    assert outside.status_code == 400 and outside.json()["field"] == "aux_ref_audio_paths"


def test_legacy_api_py_fields_are_read_as_their_api_v2_names(api) -> None:
    client, engine, ref = api
    legacy = {"refer_wav_path": str(ref), "prompt_text": "一二三。", "prompt_language": "中文"}
    legacy |= {"text": "你好。", "text_language": "zh", "cut_punc": "，。", "speed": 1, "inp_refs": []}
    r = client.post("/", json=legacy)
    assert r.status_code == 200, r.text
    req = engine.requests[-1]
    assert (req.ref_audio_path, req.prompt_lang, req.text_lang) == (str(ref), "all_zh", "zh")
    assert "refer_wav_path read as ref_audio_path" in r.headers["x-tts-notes"]
    assert r.headers["x-tts-ignored"] == '["cut_punc"]'


def test_internal_bug_is_a_logged_500_and_user_error_a_400_naming_the_field(api, caplog) -> None:
    client, engine, ref = api
    for bug in (RuntimeError("tensor shape mismatch"), ValueError("math domain error"), KeyError("x")):
        engine.fail = bug
        with caplog.at_level(logging.ERROR, logger="GPT_SoVITS.api.app"):
            r = client.post("/tts", json=body(ref))
        assert r.status_code == 500, (bug, r.text)
        assert type(bug).__name__ in r.json()["message"]
        assert any("internal error on POST /tts" in rec.getMessage() for rec in caplog.records)
        caplog.clear()
    engine.fail = EngineError("text_lang: ko is not supported by v1 weights", field="text_lang")
    r = client.post("/tts", json=body(ref))
    assert r.status_code == 400 and r.json()["field"] == "text_lang"
    engine.fail = None
    bad = client.post("/tts", json=body(ref, top_k="many"))
    assert bad.status_code == 400 and bad.json()["field"] == "top_k"
    assert client.post("/tts", json=body(ref)).status_code == 200  # still serving


def test_bearer_scheme_is_case_insensitive_and_the_token_exact() -> None:
    assert bearer_matches("Bearer tok", "tok") and bearer_matches("bearer tok", "tok")
    assert bearer_matches("BEARER  tok ", "tok")
    assert not bearer_matches("Bearer tok2", "tok") and not bearer_matches("Basic tok", "tok")
    assert not bearer_matches("", "tok") and not bearer_matches("tok", "tok")


def test_auth_applies_to_every_route_but_health(api) -> None:
    client, _, ref = api
    assert client.get("/health", headers={"Authorization": ""}).status_code == 200
    for header in ("", "Bearer nope", "Basic tok"):
        r = client.post("/tts", json=body(ref), headers={"Authorization": header})
        assert r.status_code == 401
    assert client.post("/tts", json=body(ref), headers={"Authorization": "bearer tok"}).status_code == 200


def test_split_list_forms() -> None:
    assert split_list("") == [] and split_list([""]) == [] and split_list([]) == [] and split_list(None) == []
    assert split_list("a.wav, b.wav") == ["a.wav", "b.wav"]
    assert split_list(['"456.wav"', "789.wav"]) == ["456.wav", "789.wav"]  # api.py's quoted GET example


def test_missing_encoder_is_a_400_naming_it_before_synthesis(api, monkeypatch) -> None:
    client, engine, ref = api
    upload = {"ref_audio": ("r.wav", ref.read_bytes())}
    saved = client.post("/voices/v", files=upload, data={"prompt_lang": "zh"})
    assert saved.status_code == 200, saved.text
    monkeypatch.setattr(encode, "available", lambda e: e.kind == "builtin")
    r = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "你好。", "voice": "v"})
    assert r.status_code == 400 and r.json()["field"] == "response_format"
    assert "mp3 needs libsndfile with MP3/MPEG_LAYER_III (soundfile) or ffmpeg with the libmp3lame" in r.text
    aac = client.post("/tts", json=body(ref, media_type="aac"))
    assert aac.status_code == 400 and aac.json()["field"] == "media_type" and "ffmpeg" in aac.text
    assert engine.requests == []  # refused before any synthesis
    wav = client.post("/v1/audio/speech", json={"input": "你好。", "voice": "v", "response_format": "wav"})
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"


def test_encoders_of_this_machine_round_trip() -> None:
    t = np.arange(SR) / SR
    wav = (0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    for fmt in ("wav", "flac", "ogg"):
        decoded, sr = sf.read(io.BytesIO(encode.encode(wav, SR, fmt)), dtype="float32")
        assert sr == SR and abs(len(decoded) - SR) < 2000 and np.abs(decoded).max() > 0.3
    pcm = np.frombuffer(encode.encode(wav, SR, "pcm"), np.int16)
    assert len(pcm) == 24000 and np.abs(pcm).max() > 0.3 * 32768


def test_warmup_reports_warming_then_ok_and_survives_a_failing_engine() -> None:
    gate = threading.Event()

    class Slow:
        def synthesize(self, req: TTSRequest) -> None:
            gate.wait(10)
            raise RuntimeError("kernel compile failed")

    warm = Warmup()
    assert warm.status == "ok"  # no warm-up asked for
    warm.start(Slow())
    assert warm.status == "warming"
    gate.set()
    assert warm.wait(10) and warm.describe()["warmup_error"] == "RuntimeError: kernel compile failed"


def test_openai_stock_voice_uses_the_default_reference_once_one_is_set(api) -> None:
    client, engine, ref = api
    speech = {"model": "tts-1", "input": "你好。", "voice": "alloy", "response_format": "wav"}
    unknown = client.post("/v1/audio/speech", json=speech)
    assert unknown.status_code == 400 and "unknown preset 'alloy'" in unknown.text
    assert client.get("/set_refer_audio", params={"refer_audio_path": str(ref)}).status_code == 200
    r = client.post("/v1/audio/speech", json=speech)
    assert r.status_code == 200 and "voice 'alloy' is no preset" in r.headers["x-tts-notes"]
    assert engine.requests[-1].ref_audio_path == str(ref.resolve())


def test_paths_the_os_refuses_are_400s_naming_the_field(api) -> None:
    client, _, ref = api
    for bad in ("a\x00b.wav", "x" * 5000, str(ref.parent / ("y" * 300))):
        r = client.post("/tts", json=body(ref, ref_audio_path=bad))
        assert r.status_code == 400 and r.json()["field"] == "ref_audio_path", (bad[:20], r.text)
        r = client.post("/tts", json=body(ref, aux_ref_audio_paths=[bad]))
        assert r.status_code == 400 and r.json()["field"] == "aux_ref_audio_paths", (bad[:20], r.text)
