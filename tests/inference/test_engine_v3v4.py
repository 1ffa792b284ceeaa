"""The engine with v3/v4 models: golden LoRA files merged onto their bases, CFM + vocoder synthesis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from GPT_SoVITS.checkpoints import CheckpointError
from GPT_SoVITS.inference.cfm_stage import SUPER_SAMPLING_NOTE
from GPT_SoVITS.inference.guard import GuardConfig
from GPT_SoVITS.inference.request import RequestError, TTSRequest

LORA = {
    "v3": "SoVITS_weights_v3/parity_pub_v3_lora_e3_s60_l32.pth",
    "v4": "SoVITS_weights_v4/parity_pub_v4_lora_e3_s60_l32.pth",
}
GUARD = GuardConfig(max_tokens_per_phone=2.0, slack_tokens=4)  # random GPTs rarely stop: keep it short


def request(refs: dict[str, Path], **kw) -> TTSRequest:
    base = {
        "text": "天气很好。",
        "text_lang": "zh",
        "ref_audio_path": str(refs["zh"]),
        "prompt_text": "今天天气很好，我们去公园。",
        "prompt_lang": "zh",
        "seed": 7,
        "max_retries": 0,
        "sample_steps": 4,
    }
    return TTSRequest(**{**base, **kw})


def make_engine(version: str, golden_models, next_golden_dir: Path, bert_dir: Path, hubert_dir: Path, **kw):
    from GPT_SoVITS.inference.engine import TTSEngine

    models = next_golden_dir / "models"
    return TTSEngine(
        golden_models[0], models / LORA[version], bert_dir, hubert_dir, device="cpu", guard=GUARD,
        pretrained_dir=kw.pop("pretrained_dir", models / "pretrained_models"), **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def v4_engine(golden_models, next_golden_dir: Path, bert_dir: Path, hubert_dir: Path):
    return make_engine("v4", golden_models, next_golden_dir, bert_dir, hubert_dir)


def test_v4_lora_synthesises_48k_audio_through_the_engine(v4_engine, refs: dict[str, Path]) -> None:
    assert v4_engine.sovits.version == "v4" and v4_engine.sample_rate == 48000
    assert v4_engine.describe()["sample_rate"] == 48000
    a = v4_engine.synthesize(request(refs))
    assert a.sample_rate == 48000 and a.audio.dtype == np.float32 and np.all(np.isfinite(a.audio))
    tokens = a.segments[0].tokens
    # every token is 4 mel frames of 480 samples (+ the pause after the segment)
    pause = int(48000 * request(refs).fragment_interval)
    assert len(a.audio) == tokens * 4 * 480 + pause
    assert np.abs(a.audio).max() > 1e-3


@pytest.mark.slow
def test_v4_seed_and_sample_steps_decide_the_audio(v4_engine, refs: dict[str, Path]) -> None:
    a = v4_engine.synthesize(request(refs))
    tokens = a.segments[0].tokens
    again = v4_engine.synthesize(request(refs))
    assert np.array_equal(a.audio, again.audio)  # the CFM noise is seeded by the request
    other_steps = v4_engine.synthesize(request(refs, sample_steps=8))
    assert other_steps.segments[0].tokens == tokens and not np.allclose(other_steps.audio, a.audio)


def test_v4_needs_the_prompt_text(v4_engine, refs: dict[str, Path]) -> None:
    with pytest.raises(RequestError) as e:
        v4_engine.synthesize(request(refs, prompt_text=""))
    assert e.value.field == "prompt_text"


def test_lora_without_base_or_vocoder_names_the_files(
    golden_models, next_golden_dir: Path, bert_dir: Path, hubert_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(CheckpointError) as e:
        make_engine("v4", golden_models, next_golden_dir, bert_dir, hubert_dir, pretrained_dir=tmp_path)
    assert "parity_pub_v4_lora" in str(e.value) and "s2Gv4.pth" in str(e.value)
    # base present, vocoder absent
    base = next_golden_dir / "models" / "pretrained_models" / "gsv-v4-pretrained" / "s2Gv4.pth"
    (tmp_path / "gsv-v4-pretrained").mkdir()
    (tmp_path / "gsv-v4-pretrained" / "s2Gv4.pth").symlink_to(base)
    with pytest.raises(CheckpointError, match=r"vocoder\.pth") as e:
        make_engine("v4", golden_models, next_golden_dir, bert_dir, hubert_dir, pretrained_dir=tmp_path)
    assert "parity_pub_v4_lora" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
def test_v3_lora_synthesises_24k_and_says_super_sampling_is_off(
    golden_models, next_golden_dir: Path, bert_dir: Path, hubert_dir: Path, refs: dict[str, Path]
) -> None:
    engine = make_engine("v3", golden_models, next_golden_dir, bert_dir, hubert_dir)
    result = engine.synthesize(request(refs, super_sampling=True))
    assert result.sample_rate == 24000 and np.all(np.isfinite(result.audio))
    assert SUPER_SAMPLING_NOTE in result.notes
    assert SUPER_SAMPLING_NOTE not in engine.synthesize(request(refs)).notes
