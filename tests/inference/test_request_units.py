"""Model-free pieces: request validation, reference windowing, the guard, stitching, batching, packing."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.inference.guard import GuardConfig, check_tokens, find_loop, retry_seed
from GPT_SoVITS.inference.postprocess import pack_audio, pack_stream_chunk, to_int16
from GPT_SoVITS.inference.reference import ReferenceError, apply_window, choose_window, load_reference
from GPT_SoVITS.inference.request import RequestError, TTSRequest
from GPT_SoVITS.inference.segments import make_batches, prompt_with_stop
from GPT_SoVITS.inference.streaming import ChunkStitcher, chunk_tokens, crossfade
from tests.inference.conftest import speech_like

BASE = {"text": "你好", "text_lang": "zh", "ref_audio_path": "r.wav"}


def test_request_defaults_equal_api_v2() -> None:
    req = TTSRequest(**BASE)
    official = {
        "top_k": 15,
        "top_p": 1,
        "temperature": 1,
        "text_split_method": "cut5",
        "batch_size": 1,
        "batch_threshold": 0.75,
        "split_bucket": True,
        "speed_factor": 1.0,
        "fragment_interval": 0.3,
        "seed": -1,
        "media_type": "wav",
        "streaming_mode": False,
        "parallel_infer": True,
        "repetition_penalty": 1.35,
        "sample_steps": 32,
        "super_sampling": False,
        "overlap_length": 2,
        "min_chunk_length": 16,
        "prompt_text": "",
        "aux_ref_audio_paths": (),
    }
    assert {k: getattr(req, k) for k in official} == official


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text_lang": "xx"}, "text_lang"),
        ({"ref_audio_path": ""}, "ref_audio_path"),
        ({"prompt_text": "你好", "prompt_lang": ""}, "prompt_lang"),
        ({"top_p": 0}, "top_p"),
        ({"temperature": 0}, "temperature"),
        ({"text_split_method": "cut9"}, "text_split_method"),
        ({"batch_size": 0}, "batch_size"),
        ({"speed_factor": 9}, "speed_factor"),
        ({"media_type": "mp3"}, "media_type"),
        ({"streaming_mode": 7}, "streaming_mode"),
        ({"seed": -2}, "seed"),
    ],
)
def test_request_errors_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(RequestError) as e:
        TTSRequest(**{**BASE, **change})
    assert e.value.field == field and field in str(e.value)


def test_from_mapping_coerces_query_strings() -> None:
    req = TTSRequest.from_mapping(
        {
            **BASE,
            "top_k": "5",
            "split_bucket": "false",
            "speed_factor": "1.5",
            "streaming_mode": "2",
            "aux_ref_audio_paths": ["a.wav", "b.wav"],
            "text_lang": "ZH",
            "prompt_lang": None,
        }
    )
    assert (req.top_k, req.split_bucket, req.speed_factor, req.streaming_mode) == (5, False, 1.5, 2)
    assert req.aux_ref_audio_paths == ("a.wav", "b.wav") and req.text_lang == "zh"
    assert req.stream_kind == "token" and TTSRequest(**BASE, streaming_mode=True).stream_kind == "segment"
    with pytest.raises(RequestError, match="top_k"):
        TTSRequest.from_mapping({**BASE, "top_k": "many"})
    with pytest.raises(RequestError, match="unknown field"):
        TTSRequest.from_mapping({**BASE, "volume": 3})


def test_prompt_gets_a_full_stop() -> None:
    assert prompt_with_stop("你好\n", "zh") == "你好。"
    assert prompt_with_stop("hello", "en") == "hello."
    assert prompt_with_stop("好吧！", "zh") == "好吧！"


def test_window_choice_pads_short_and_cuts_long_at_pauses() -> None:
    sr = 16000
    short = speech_like(1.2, sr)
    w = choose_window(short, sr)
    assert w.pad_s == pytest.approx(1.8) and not w.cropped and "padded" in w.note
    assert len(apply_window(short, sr, w)) == 3 * sr
    assert choose_window(speech_like(5.0, sr), sr).note == ""
    # 4 s of speech, 2 s of near-silence, 7 s of speech, 3 s of silence: the 7 s stretch is the best window.
    parts = [
        speech_like(4, sr, 1),
        np.zeros(2 * sr, np.float32),
        speech_like(7, sr, 2),
        np.zeros(3 * sr, np.float32),
    ]
    wav = np.concatenate(parts)
    w = choose_window(wav, sr)
    assert w.cropped and 3.0 <= w.end_s - w.start_s <= 10.0
    assert 4.0 <= w.start_s <= 6.1 and 12.9 <= w.end_s <= 16.0, w
    assert "window" in w.note


def test_reference_checks(tmp_path: Path) -> None:
    sf.write(tmp_path / "silent.wav", np.zeros(48000, np.float32), 16000)
    sf.write(tmp_path / "rate.wav", speech_like(4, 4000), 4000)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    for name, reason in (("silent.wav", "silent"), ("rate.wav", "sample rate"), ("missing.wav", "not found")):
        with pytest.raises(ReferenceError, match=reason):
            load_reference(tmp_path / name)
    with pytest.raises(ReferenceError, match=r"bad\.wav"):
        load_reference(tmp_path / "bad.wav")


def test_guard_flags_loops_and_implausible_lengths() -> None:
    cfg = GuardConfig()
    rng = np.random.default_rng(0)
    natural = rng.integers(0, 1024, 50).tolist()
    assert check_tokens(natural, 20, cfg).ok
    assert "too short" in check_tokens(natural[:5], 40, cfg).reason
    assert "too long" in check_tokens(natural, 4, cfg).reason
    looped = natural[:10] + [5, 6, 7] * 12 + natural[10:20]
    assert find_loop(looped, cfg)[0] == 3
    assert "loop" in check_tokens(looped, 25, cfg).reason
    assert find_loop([7] * 30 + natural, cfg) is None  # a 1.2 s run of one token is a pause, not a loop
    assert len({retry_seed(1, a) for a in range(5)}) == 5


def test_crossfade_and_stitching_rebuild_a_signal() -> None:
    x = np.sin(np.arange(32000) / 20).astype(np.float32)
    assert np.allclose(crossfade(x[:100], x[:100]), x[:100], atol=1e-6)
    # Chunks that render overlapping stretches identically stitch back to the original exactly.
    per_token, stitched, stitcher = 100, [], ChunkStitcher()
    tokens = list(range(300))
    for chunk in chunk_tokens(iter(tokens), min_chunk=40, overlap=3):
        start = (chunk.tokens[0] if chunk.tokens else 0) * per_token
        audio = x[start : start + len(chunk.tokens) * per_token]
        stitched.append(stitcher.push(audio, len(chunk.tokens), chunk.head, 3, chunk.final))
    out = np.concatenate(stitched)
    assert len(out) == len(tokens) * per_token
    assert np.allclose(out, x[: len(out)], atol=1e-5)


def test_chunking_modes() -> None:
    chunks = list(chunk_tokens(iter(range(50)), min_chunk=16, overlap=2))
    assert [len(c.tokens) - c.head for c in chunks] == [16, 16, 16, 2]
    assert chunks[1].tokens[:2] == [14, 15] and chunks[-1].final
    pauses = list(chunk_tokens(iter(range(50)), 8, 0, split_ok=lambda t: t % 10 == 0))
    assert [c.tokens[-1] for c in pauses[:-1]] == [10, 20, 30, 40]


def test_split_bucket_batches() -> None:
    lengths = [5, 50, 6, 48, 7, 52]
    batches = make_batches(lengths, 3, 0.75, True)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert {frozenset(b) for b in batches} == {frozenset({0, 2, 4}), frozenset({1, 3, 5})}
    assert make_batches(lengths, 4, 0.75, False) == [[0, 1, 2, 3], [4, 5]]


def test_packing() -> None:
    wav = np.linspace(-1.2, 1.2, 3200).astype(np.float32)
    assert to_int16(wav).min() == -32768 and to_int16(wav).max() == 32767
    data, sr = sf.read(io.BytesIO(pack_audio(wav, 32000, "wav")), dtype="int16")
    assert sr == 32000 and np.array_equal(data, to_int16(wav))
    assert pack_audio(wav, 32000, "raw") == to_int16(wav).tobytes()
    ogg, _ = sf.read(io.BytesIO(pack_audio(wav * 0.5, 32000, "ogg")))
    assert abs(len(ogg) - 3200) < 400
    stream = pack_stream_chunk(wav, 32000, "wav", True) + pack_stream_chunk(wav, 32000, "wav", False)
    data, _ = sf.read(io.BytesIO(stream), dtype="int16")
    assert len(data) == 6400


@pytest.mark.parametrize(
    ("version", "changes", "field"),
    [
        ("v2", {"sample_steps": 8}, "sample_steps"),
        ("v1", {"super_sampling": True}, "super_sampling"),
        ("v4", {"super_sampling": True}, "super_sampling"),
        ("v3", {"sample_steps": 7}, "sample_steps"),
        ("v2", {}, None),  # the api_v2 default sample_steps (32) is sent by every client: accepted
        ("v3", {"sample_steps": 8, "super_sampling": True}, None),
        ("v4", {"sample_steps": 64}, None),
    ],
)
def test_version_only_fields_follow_the_version_table(version: str, changes: dict, field: str | None) -> None:
    from GPT_SoVITS.inference.request import check_model_support

    req = TTSRequest(**BASE, **changes)
    if field is None:
        check_model_support(req, version)
        return
    with pytest.raises(RequestError) as info:
        check_model_support(req, version)
    assert info.value.field == field and version in str(info.value)


def test_request_carries_one_sampling_options_value() -> None:
    from GPT_SoVITS.models.gpt.sampling import SamplingOptions

    req = TTSRequest(**BASE, top_k=5, top_p=0.8, temperature=0.7, repetition_penalty=1.1)
    assert req.sampling == SamplingOptions(top_k=5, top_p=0.8, temperature=0.7, repetition_penalty=1.1)
