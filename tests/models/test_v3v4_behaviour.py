"""Behaviour of the v3/v4 pieces on tiny random models: rotary embedding, CFM sampling, LoRA merge,
chunked synthesis."""

from __future__ import annotations

import math

import pytest
import torch

from GPT_SoVITS.models.cfm import CFM, DiTConfig
from GPT_SoVITS.models.cfm.dit import RotaryEmbedding, apply_rotary
from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3, V3Sizes
from GPT_SoVITS.models.v3v4.load import VocoderSpec, merge_lora, sizes_from_state_dict
from GPT_SoVITS.models.v3v4.synthesis import V3V4Trace, denorm_spec, norm_spec, synthesize
from GPT_SoVITS.models.vocoder import V4VocoderConfig, build_v4_vocoder

TINY_DIT = DiTConfig(dim=64, depth=1, heads=1, dim_head=64, ff_mult=2, text_dim=32, conv_layers=1)


def tiny_v3(version: str = "v4") -> SynthesizerTrnV3:
    torch.manual_seed(0)
    sizes = V3Sizes(dit=TINY_DIT, wns1_channels=32, wns1_kernel=3, wns1_layers=1)
    return SynthesizerTrnV3(192, 192, 32, 2, 2, 3, 0.0, 512, version=version, sizes=sizes).eval()


def test_rotary_rotates_only_the_first_head_and_keeps_pair_norms() -> None:
    rot = RotaryEmbedding(8)
    x = torch.randn(2, 5, 24)
    y = apply_rotary(x, rot.angles(5))
    assert torch.equal(y[..., 8:], x[..., 8:])  # channels past the rotary width pass unchanged
    assert torch.allclose(y[:, 0], x[:, 0])  # position 0: angle 0
    pair_norm = lambda t: t[..., :8].unflatten(-1, (4, 2)).norm(dim=-1)  # noqa: E731
    assert torch.allclose(pair_norm(y), pair_norm(x), atol=1e-6)
    # position 1, first pair: a rotation by inv_freq[0] = 1 radian of (x0, x1)
    c, s = math.cos(1.0), math.sin(1.0)
    x0, x1 = x[0, 1, 0], x[0, 1, 1]
    assert torch.allclose(y[0, 1, :2], torch.stack([x0 * c - x1 * s, x1 * c + x0 * s]), atol=1e-6)


def test_cfm_keeps_the_prompt_region_at_zero_and_follows_the_noise() -> None:
    torch.manual_seed(0)
    cfm = CFM(100, TINY_DIT).eval()
    mu = torch.randn(1, 30, 32)
    prompt = torch.randn(1, 100, 10)
    lens = torch.tensor([30])
    noise = torch.randn(1, 100, 30)
    trace: list[torch.Tensor] = []
    out = cfm.inference(mu, lens, prompt, 4, noise=noise, trace=trace)
    assert out.shape == (1, 100, 30) and len(trace) == 4
    assert torch.equal(out[..., :10], torch.zeros(1, 100, 10))
    # Euler: x_end = noise + sum(d * v) outside the prompt
    expected = noise[..., 10:] + sum(0.25 * v.transpose(1, 2)[..., 10:] for v in trace)
    assert torch.allclose(out[..., 10:], expected, atol=1e-5)
    assert torch.equal(cfm.inference(mu, lens, prompt, 4, noise=noise), out)  # deterministic given noise
    assert not torch.allclose(cfm.inference(mu, lens, prompt, 4, noise=noise + 1), out)
    with pytest.raises(ValueError, match="noise shape"):
        cfm.inference(mu, lens, prompt, 4, noise=torch.randn(1, 100, 29))


def test_lora_merge_is_w_plus_scaled_b_a_and_rejects_strays() -> None:
    base = {"cfm.estimator.blocks.0.to_q.weight": torch.randn(6, 4), "bridge.0.weight": torch.randn(3)}
    a, b = torch.randn(2, 4), torch.randn(6, 2)
    lora = {
        "cfm.base_model.model.estimator.blocks.0.to_q.lora_A.default.weight": a.half(),
        "cfm.base_model.model.estimator.blocks.0.to_q.lora_B.default.weight": b.half(),
        "bridge.0.weight": torch.ones(3).half(),
    }
    merged = merge_lora(base, lora, rank=2, alpha=4)
    expected = base["cfm.estimator.blocks.0.to_q.weight"] + 2 * (b.half().float() @ a.half().float())
    assert torch.allclose(merged["cfm.estimator.blocks.0.to_q.weight"], expected)
    assert torch.equal(merged["bridge.0.weight"], torch.ones(3))
    with pytest.raises(KeyError, match="incomplete"):
        merge_lora(base, {k: v for k, v in lora.items() if "lora_B" not in k}, rank=2)
    with pytest.raises(KeyError, match="no counterpart"):
        merge_lora(base, {"wns1.unknown.weight": torch.ones(1)}, rank=2)


def test_sizes_round_trip_through_a_state_dict() -> None:
    model = tiny_v3()
    assert sizes_from_state_dict(model.state_dict()) == model.sizes


def test_mel_normalisation_round_trips() -> None:
    x = torch.linspace(-12, 2, 15)
    assert torch.allclose(norm_spec(x), torch.linspace(-1, 1, 15), atol=1e-6)
    assert torch.allclose(denorm_spec(norm_spec(x)), x, atol=1e-5)


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_long_targets_are_chunked_and_every_frame_is_vocoded(version: str) -> None:
    model = tiny_v3(version)
    vocoder = build_v4_vocoder(V4VocoderConfig(upsample_initial_channel=32, resblock_kernel_sizes=(3,),
                                               resblock_dilation_sizes=((1, 3, 5),))).eval()  # fmt: skip
    mel_sr = 24000 if version == "v3" else 32000
    hop = 256 if version == "v3" else 320
    vspec = VocoderSpec(sr=48000, hop=480, t_ref=40, t_chunk=70)  # small chunks: 30 new frames each
    torch.manual_seed(1)
    prompt_codes = torch.randint(0, 1024, (20,))
    target_codes = torch.randint(0, 1024, (1, 1, 25))
    refer = torch.rand(1, 1025, 40) * 5
    ref_wav = torch.randn(mel_sr * 2) * 0.1  # 2 s: more reference frames than t_ref
    trace = V3V4Trace()
    with torch.no_grad():
        audio = synthesize(
            model, vocoder, vspec, prompt_codes, torch.randint(0, 732, (8,)), refer, ref_wav,
            target_codes, torch.randint(0, 732, (1, 12)), sample_steps=2, trace=trace,
        )  # fmt: skip
    target_frames = int(25 * 2 * (1.875 if version == "v3" else 2))
    assert trace.mel_ref_raw.shape[-1] == 2 * mel_sr // hop
    assert len(trace.chunks) == math.ceil(target_frames / 30)
    assert all(c["cfm_prompt"].shape[-1] <= 40 for c in trace.chunks)
    assert trace.vocoder_in_mel.shape == (1, 100, target_frames)
    assert audio.shape == (target_frames * 480,) and torch.isfinite(audio).all()
