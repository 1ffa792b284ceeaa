"""v2Pro in the engine: the reference's SV embedding conditions the SoVITS decode, as a direct model call.

The golden v2Pro file's ``sv_emb`` takes 20480-d embeddings (the released SV width) while the golden SV
model is reduced to 2560-d; the engine must refuse that pairing naming both files. For synthesis the test
uses the golden v2Pro weights with ``sv_emb`` cut to the golden SV model's 2560 inputs (our loader reads
that width from the file), so the whole chain runs on the stored models.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from GPT_SoVITS.audio import resample, spectrogram_torch
from GPT_SoVITS.checkpoints import load_sovits, save_sovits
from GPT_SoVITS.features.sv import SpeakerEncoder, SpeakerEncoderError
from GPT_SoVITS.inference.guard import GuardConfig
from GPT_SoVITS.inference.pipeline import Pipeline
from GPT_SoVITS.inference.reference import apply_window, load_reference
from GPT_SoVITS.inference.request import TTSRequest
from GPT_SoVITS.models.sovits import load_sovits_model


@pytest.fixture(scope="module")
def sv_model(next_golden_dir: Path) -> Path:
    meta = json.loads((next_golden_dir / "sv_embedding.json").read_text())
    return next_golden_dir / "models" / meta["model_file"]


@pytest.fixture(scope="module")
def pro_file(next_golden_dir: Path) -> Path:
    return next(next_golden_dir.glob("models/SoVITS_weights_v2Pro/*.pth"))


@pytest.fixture(scope="module")
def pro_engine(
    tmp_path_factory, golden_models, pro_file: Path, sv_model: Path, bert_dir: Path, hubert_dir: Path
):
    from GPT_SoVITS.inference.engine import TTSEngine

    ckpt = load_sovits(pro_file)
    width = SpeakerEncoder(sv_model).embedding_dim
    weight = dict(ckpt.weight, **{"sv_emb.weight": ckpt.weight["sv_emb.weight"][:, :width]})
    narrow = tmp_path_factory.mktemp("pro") / "pro_sv2560_e1_s1.pth"
    save_sovits(narrow, weight, ckpt.config, ckpt.info, "v2Pro")
    guard = GuardConfig(max_tokens_per_phone=2.0, slack_tokens=4)
    return TTSEngine(
        golden_models[0], narrow, bert_dir, hubert_dir, device="cpu", guard=guard, sv_path=sv_model
    )


def request(refs: dict[str, Path], **kw) -> TTSRequest:
    base = {"text": "天气很好。", "text_lang": "zh", "ref_audio_path": str(refs["zh"]), "seed": 3}
    return TTSRequest(
        **{**base, "prompt_text": "今天天气很好。", "prompt_lang": "zh", "max_retries": 0, **kw}
    )


def test_reference_embedding_is_the_sv_model_on_16k_audio(pro_engine, refs, sv_model: Path) -> None:
    ref = pro_engine.prepare_reference(refs["zh"])
    assert ref.sv_emb is not None and ref.sv_emb.shape == (1, 2560)
    # direct: the windowed reference at 32 kHz, resampled to 16 kHz, through the SV model
    wav, sr = load_reference(refs["zh"])
    wav32 = resample(apply_window(wav, sr, ref.window), sr, 32000)
    direct = SpeakerEncoder(sv_model).embed(resample(wav32, 32000, 16000))
    torch.testing.assert_close(ref.sv_emb, direct, atol=1e-5, rtol=1e-4)
    other = pro_engine.prepare_reference(refs["voice_a"])
    assert not torch.allclose(ref.sv_emb, other.sv_emb)


def test_render_equals_a_direct_model_call(pro_engine, refs) -> None:
    req = request(refs, aux_ref_audio_paths=(str(refs["voice_a"]),))
    pipe = Pipeline(pro_engine, req)
    seg = next(iter(pipe.segments(pipe.prepare())))
    tokens = [int(t) for t in torch.randint(0, 1024, (20,), generator=torch.Generator().manual_seed(1))]
    audio = pipe.render(tokens, seg, noise_seed=11)
    model = pro_engine.sovits.model
    refs_used = [pro_engine.prepare_reference(p) for p in (refs["zh"], refs["voice_a"])]
    noise = torch.randn((1, 192, 40), generator=pipe._generator(11))
    direct = model.decode(
        torch.tensor(tokens)[None, None], torch.tensor(seg.ids)[None], [r.spec for r in refs_used],
        noise_scale=0.5, noise=noise, sv_emb=[r.sv_emb for r in refs_used],
    )[0, 0].numpy()  # fmt: skip
    direct = direct / max(1.0, float(np.abs(direct).max()))
    np.testing.assert_allclose(audio, direct, atol=1e-5)
    # the SV branch matters: without the aux reference's embedding the voice differs
    alone = model.decode(
        torch.tensor(tokens)[None, None], torch.tensor(seg.ids)[None], [refs_used[0].spec], noise_scale=0.5,
        noise=noise, sv_emb=[refs_used[1].sv_emb],
    )[0, 0].numpy()  # fmt: skip
    assert np.abs(alone - direct).max() > 1e-3


@pytest.mark.slow
def test_synthesis_runs_end_to_end(pro_engine, refs) -> None:
    result = pro_engine.synthesize(request(refs))
    assert result.sample_rate == 32000 and np.all(np.isfinite(result.audio)) and result.duration > 0.1
    assert pro_engine.describe()["version"] == "v2Pro"


def test_wrong_or_missing_sv_model_names_the_files(
    golden_models, pro_file: Path, sv_model: Path, tmp_path: Path
):
    from GPT_SoVITS.inference.engine import TTSEngine

    with pytest.raises(SpeakerEncoderError) as e:  # golden SV is 2560-d, the golden v2Pro wants 20480
        TTSEngine(golden_models[0], pro_file, None, None, device="cpu", sv_path=sv_model)
    assert str(sv_model) in str(e.value) and str(pro_file) in str(e.value) and "20480" in str(e.value)
    missing = tmp_path / "sv" / "pretrained_eres2netv2w24s4ep4.ckpt"
    with pytest.raises(SpeakerEncoderError, match="download") as e:
        TTSEngine(golden_models[0], pro_file, None, None, device="cpu", sv_path=missing)
    assert str(missing) in str(e.value)


def test_spectrogram_of_the_reference_is_unchanged_by_the_sv_branch(pro_engine, refs) -> None:
    ref = pro_engine.prepare_reference(refs["zh"])
    wav, sr = load_reference(refs["zh"])
    wav32 = torch.from_numpy(resample(apply_window(wav, sr, ref.window), sr, 32000))[None]
    spec = spectrogram_torch(wav32, 2048, 32000, 640, 2048, center=False)
    torch.testing.assert_close(ref.spec, spec.float(), atol=1e-5, rtol=1e-4)
    assert load_sovits_model(pro_engine.sovits.path).sv_input_dim == 2560
