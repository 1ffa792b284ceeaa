"""TTSEngine end to end on tiny random models: real waveforms for every mode the issue lists."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from GPT_SoVITS.checkpoints import CheckpointError
from GPT_SoVITS.inference.guard import GuardConfig
from GPT_SoVITS.inference.reference import ReferenceError
from GPT_SoVITS.inference.request import RequestError, TTSRequest
from GPT_SoVITS.text.cut import preprocess_segments

TEXT = "天气很好，去公园吧。明天见！"
PROMPT = "今天天气很好，我们去公园。"


def request(refs: dict[str, Path], **kw) -> TTSRequest:
    base = {
        "text": TEXT,
        "text_lang": "zh",
        "ref_audio_path": str(refs["zh"]),
        "prompt_text": PROMPT,
        "prompt_lang": "zh",
        "seed": 7,
        "max_retries": 0,
    }
    return TTSRequest(**{**base, **kw})


def assert_audio(result, min_seconds: float = 0.3) -> None:
    assert result.sample_rate == 32000
    assert result.audio.dtype == np.float32 and np.all(np.isfinite(result.audio))
    assert result.duration >= min_seconds
    assert np.abs(result.audio).max() <= 1.0 and np.abs(result.audio).max() > 1e-4


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "method", ["cut0", "cut5", *(pytest.param(m, marks=SLOW) for m in ("cut1", "cut2", "cut3", "cut4"))]
)
def test_each_cut_method_synthesises(engine, refs: dict[str, Path], method: str) -> None:
    result = engine.synthesize(request(refs, text_split_method=method))
    assert_audio(result)
    texts = [s.text for s in result.segments]
    assert "".join(texts).replace("。", "").replace("，", "").replace("！", "") == "天气很好去公园吧明天见"
    assert len(texts) == len(preprocess_segments(TEXT, method, "zh"))  # the official API pre-segmentation
    assert len(texts) == 1 if method == "cut0" else True
    assert len(texts) >= 2 if method == "cut5" else True
    assert all(s.tokens > 0 and s.phonemes > 0 for s in result.segments)


def test_same_seed_same_audio_other_seed_other_audio(engine, refs: dict[str, Path]) -> None:
    a = engine.synthesize(request(refs))
    b = engine.synthesize(request(refs))
    c = engine.synthesize(request(refs, seed=8))
    assert np.array_equal(a.audio, b.audio) and a.seed == 7
    assert not (len(a.audio) == len(c.audio) and np.array_equal(a.audio, c.audio))
    random = engine.synthesize(request(refs, seed=-1))
    assert 0 <= random.seed < 2**32


@SLOW
def test_reference_free_and_aux_references(engine, refs: dict[str, Path]) -> None:
    free = engine.synthesize(request(refs, prompt_text=""))
    flag = engine.synthesize(request(refs, ref_free=True))
    assert_audio(free)
    assert np.array_equal(free.audio, flag.audio)  # both decode without the prompt
    prompted = engine.synthesize(request(refs))
    assert not (len(free.audio) == len(prompted.audio) and np.array_equal(free.audio, prompted.audio))
    # Aux references change the averaged timbre vector, not the tokens: same length, different samples.
    aux = engine.synthesize(request(refs, aux_ref_audio_paths=(str(refs["voice_a"]), str(refs["en"]))))
    assert [s.tokens for s in aux.segments] == [s.tokens for s in prompted.segments]
    assert len(aux.audio) == len(prompted.audio) and not np.allclose(aux.audio, prompted.audio)


def test_streaming_per_segment_equals_whole(engine, refs: dict[str, Path]) -> None:
    whole = engine.synthesize(request(refs))
    chunks = list(engine.stream(request(refs, streaming_mode=1)))
    assert len(chunks) == len(whole.segments) and chunks[-1].final and not chunks[0].final
    assert np.array_equal(np.concatenate([c.audio for c in chunks]), whole.audio)


@SLOW
@pytest.mark.parametrize("mode", [2, 3])
def test_token_chunk_streaming(engine, refs: dict[str, Path], mode: int) -> None:
    req = request(refs, streaming_mode=mode, min_chunk_length=8, overlap_length=2, text_split_method="cut0")
    chunks = list(engine.stream(req))
    whole = engine.synthesize(request(refs, text_split_method="cut0"))
    tokens = whole.segments[0].tokens
    assert len(chunks) >= 2 and chunks[-1].final and chunks[-1].report.tokens == tokens
    audio = np.concatenate([c.audio for c in chunks])
    # Same tokens (same seed), stitched: exactly tokens x 1280 samples of speech + the pause.
    assert len(audio) == tokens * 1280 + int(0.3 * 32000) == len(whole.audio)
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 1e-4
    if mode == 3:
        # first: 8 new tokens minus the 2 held back; middle: 2 crossfaded + 6 new (2 held again)
        assert len(chunks[0].audio) == 6 * 1280
        assert all(len(c.audio) == 8 * 1280 for c in chunks[1:-1])


@SLOW
def test_batch_with_split_bucket_keeps_text_order(engine, refs: dict[str, Path]) -> None:
    text = "一二三四五。六七八九十，甲乙丙丁戊己庚辛。春夏秋冬！东南西北中。"
    result = engine.synthesize(request(refs, text=text, batch_size=3, split_bucket=True, parallel_infer=True))
    assert_audio(result)
    assert [s.index for s in result.segments] == list(range(len(result.segments)))
    assert "".join(s.text for s in result.segments).startswith("一二三四五")


@SLOW
def test_speed_and_pause(engine, refs: dict[str, Path]) -> None:
    base = engine.synthesize(request(refs, fragment_interval=0.0))
    pause = engine.synthesize(request(refs, fragment_interval=0.5))
    assert len(pause.audio) - len(base.audio) == len(base.segments) * 16000
    fast = engine.synthesize(request(refs, speed_factor=1.5, fragment_interval=0.0))
    assert [s.tokens for s in fast.segments] == [s.tokens for s in base.segments]
    # the length regulator: int(2T / speed) + 1 frames of 640 samples per segment of T tokens
    assert len(fast.audio) == sum((int(2 * s.tokens / 1.5) + 1) * 640 for s in base.segments)


@SLOW
def test_reference_windows_and_cache(engine, refs: dict[str, Path], tmp_path: Path) -> None:
    long = engine.synthesize(request(refs, ref_audio_path=str(refs["long"])))
    assert any("window" in n for n in long.notes) and any("reference-free" in n for n in long.notes)
    short = engine.synthesize(request(refs, ref_audio_path=str(refs["short"])))
    assert any("padded" in n for n in short.notes) and not any("reference-free" in n for n in short.notes)
    hits = engine.references.hits
    renamed = Path(shutil.copy(refs["short"], tmp_path / "another_name.wav"))
    first = engine.prepare_reference(refs["short"])
    again = engine.prepare_reference(renamed)  # same bytes, other name: served from the cache
    assert engine.references.hits >= hits + 2 and again is first
    assert first.prompt_codes.dtype == torch.long and first.spec.shape[1] == 1025


@SLOW
def test_guard_retries_are_reported(engine, refs: dict[str, Path]) -> None:
    strict = engine.guard
    try:
        engine.guard = GuardConfig(min_tokens_per_phone=50.0, slack_tokens=0)  # nothing can pass
        result = engine.synthesize(request(refs, max_retries=2, text_split_method="cut0"))
        seg = result.segments[0]
        assert seg.retries == 2 and not seg.accepted and len(seg.reasons) == 3
        assert "too short" in seg.reasons[0] and result.metadata()["retries"] == 2
        assert_audio(result)
        none = engine.synthesize(request(refs, max_retries=0, text_split_method="cut0"))
        assert none.segments[0].retries == 0 and not none.segments[0].accepted
    finally:
        engine.guard = strict
    ok = engine.synthesize(request(refs, max_retries=2, text_split_method="cut0"))
    assert all(s.reasons == [] or s.retries > 0 for s in ok.segments)


@SLOW
def test_v1_models_are_detected(v1_models, bert_dir: Path, hubert_dir: Path, refs: dict[str, Path]) -> None:
    from GPT_SoVITS.inference.engine import TTSEngine

    eng = TTSEngine(v1_models[0], v1_models[1], bert_dir, hubert_dir, device="cpu")
    assert eng.sovits.symbol_version == "v1" and "ko" not in eng.languages
    assert_audio(eng.synthesize(request(refs, text="你好，世界。")))
    with pytest.raises(RequestError) as e:
        eng.synthesize(request(refs, text_lang="ko", text="안녕하세요"))
    assert e.value.field == "text_lang"


def test_bad_inputs(engine, golden_models, bert_dir: Path, hubert_dir: Path, refs: dict[str, Path]) -> None:
    from GPT_SoVITS.inference.engine import TTSEngine

    for name, reason in (("silent", "silent"), ("odd_rate", "sample rate"), ("corrupt", "corrupt")):
        with pytest.raises(ReferenceError, match=reason if name != "corrupt" else "corrupt.wav"):
            engine.synthesize(request(refs, ref_audio_path=str(refs[name])))
    with pytest.raises((ReferenceError, FileNotFoundError)):
        engine.synthesize(request(refs, ref_audio_path=str(refs["zh"].with_name("absent.wav"))))
    with pytest.raises(RequestError, match="text"):
        engine.synthesize(request(refs, text="。。。！"))
    with pytest.raises(CheckpointError):
        TTSEngine(golden_models[1], golden_models[1], bert_dir, hubert_dir, device="cpu")
    with pytest.raises(CheckpointError):
        engine.set_gpt_weights(golden_models[1])  # a SoVITS file where GPT weights are expected
    assert engine.gpt.path == str(golden_models[0])  # the old weights stay


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cuda(golden_models, bert_dir: Path, hubert_dir: Path, refs: dict[str, Path], precision: str) -> None:
    from GPT_SoVITS.inference.engine import TTSEngine

    eng = TTSEngine(
        golden_models[0], golden_models[1], bert_dir, hubert_dir, device="cuda", precision=precision
    )
    result = eng.synthesize(request(refs))
    assert_audio(result)
    assert np.array_equal(result.audio, eng.synthesize(request(refs)).audio)


@SLOW
def test_fp16_on_cpu_runs_the_gpt_step_in_half(golden_models, bert_dir: Path, hubert_dir: Path, refs) -> None:
    from GPT_SoVITS.inference.engine import TTSEngine

    eng = TTSEngine(golden_models[0], golden_models[1], bert_dir, hubert_dir, device="cpu", precision="fp16")
    assert eng.describe()["precision"] == "float32" and eng.describe()["gpt_step_precision"] == "fp16"
    a = eng.synthesize(request(refs))
    assert_audio(a)
    assert np.array_equal(a.audio, eng.synthesize(request(refs)).audio)  # still deterministic per seed


def test_version_only_fields_are_rejected_by_a_v2_engine(engine, refs: dict[str, Path]) -> None:
    """sample_steps / super_sampling are never silently ignored: a v2 model rejects them, naming the field."""
    for changes, field in (
        ({"sample_steps": 8}, "sample_steps"),
        ({"super_sampling": True}, "super_sampling"),
    ):
        with pytest.raises(RequestError) as info:
            engine.synthesize(request(refs, **changes))
        assert info.value.field == field


def test_gpt_backend_is_chosen_once_and_backends_agree(
    engine, golden_models, bert_dir: Path, hubert_dir: Path, refs: dict[str, Path]
) -> None:
    from GPT_SoVITS.inference.engine import TTSEngine
    from GPT_SoVITS.inference.results import EngineError

    assert engine.describe()["gpt_backend"] == "numpy"  # auto: float32 on CPU
    eng = TTSEngine(
        golden_models[0], golden_models[1], bert_dir, hubert_dir, device="cpu", gpt_backend="torch"
    )
    assert eng.describe()["gpt_backend"] == "torch"
    req = request(refs, text_split_method="cut0")
    a, b = engine.synthesize(req), eng.synthesize(req)
    assert [s.tokens for s in a.segments] == [s.tokens for s in b.segments]
    np.testing.assert_allclose(a.audio, b.audio, atol=1e-4)
    with pytest.raises(EngineError, match="--gpt-backend numpy"):
        TTSEngine(golden_models[0], golden_models[1], bert_dir, hubert_dir, device="cpu", precision="fp16",
                  gpt_backend="numpy")  # fmt: skip
