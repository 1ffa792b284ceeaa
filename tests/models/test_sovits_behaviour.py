"""Behaviour of the tiny SoVITS synthesizer: decode semantics, save/load round trip, a training step."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from GPT_SoVITS.checkpoints import CheckpointError, load_sovits, save_sovits
from GPT_SoVITS.models.sovits import MultiPeriodDiscriminator, build_sovits, load_sovits_model
from GPT_SoVITS.models.sovits.losses import discriminator_loss, feature_loss, generator_loss, kl_loss
from GPT_SoVITS.models.sovits.quantizer import ResidualVectorQuantizer
from GPT_SoVITS.models.sovits.synthesizer import SynthesizerTrn
from GPT_SoVITS.parity.hooks import sovits_decode_steps

HOP = 640


def _inputs(n_codes: int = 12, n_phones: int = 9, ref_frames: int = 30, seed: int = 0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 1024, (1, 1, n_codes), generator=g)
    text = torch.randint(0, 322, (1, n_phones), generator=g)
    refer = torch.rand(1, 1025, ref_frames, generator=g) * 5
    return codes, text, refer


def _tiny(config: dict[str, Any], seed: int = 0) -> SynthesizerTrn:
    torch.manual_seed(seed)
    model = build_sovits(config).eval()
    with torch.no_grad():  # a trained-looking codebook (the fresh one is all zeros, awaiting k-means)
        model.quantizer.vq.layers[0]._codebook.embed.normal_()
        model.quantizer.vq.layers[0]._codebook.inited.fill_(1)
    return model


def test_decode_shapes_speed_refs_and_noise(tiny_sovits_config: dict) -> None:
    model = _tiny(tiny_sovits_config)
    codes, text, refer = _inputs()
    wav = model.decode(codes, text, [refer], noise_scale=0.0)
    assert wav.shape == (1, 1, codes.shape[2] * 2 * HOP)
    assert torch.isfinite(wav).all() and wav.abs().max() <= 1
    # speed: int(frames / speed) + 1 frames, with the speed in double precision (0.8 -> 31, not 30)
    steps = sovits_decode_steps(model, codes, text, [refer], noise_scale=0.0, speed=0.8)
    assert steps["enc_p_out_x"].shape[-1] == int(24 / 0.8) + 1 == 31
    assert steps["wav"].shape[-1] == 31 * HOP
    torch.testing.assert_close(steps["wav"], model.decode(codes, text, [refer], 0.0, speed=0.8))  # the hook
    # a list of identical references gives the same style as the single (bare tensor) reference
    torch.testing.assert_close(
        model.decode(codes, text, [refer, refer], 0.0), model.decode(codes, text, refer, 0.0)
    )
    # injected zero noise equals noise_scale 0; injected noise is used as given
    torch.testing.assert_close(model.decode(codes, text, [refer], 0.5, noise=torch.zeros(1, 192, 24)), wav)
    noise = torch.randn(1, 192, 24)
    a = sovits_decode_steps(model, codes, text, [refer], 0.5, noise=noise)
    torch.testing.assert_close(
        a["flow_in_z_p"], a["enc_p_out_m_p"] + noise * torch.exp(a["enc_p_out_logs_p"]) * 0.5
    )
    with pytest.raises(ValueError, match="noise shape"):
        model.decode(codes, text, [refer], 0.5, noise=torch.zeros(1, 192, 5))


def test_extract_latent_finds_codebook_entries(tiny_sovits_config: dict) -> None:
    model = _tiny(tiny_sovits_config)
    embed = model.quantizer.vq.layers[0]._codebook.embed
    wanted = torch.tensor([5, 900, 5, 17])
    # ssl_proj with kernel 2 / stride 2: make it pass the first frame of each pair through unchanged
    with torch.no_grad():
        model.ssl_proj.weight.zero_()
        model.ssl_proj.weight[:, :, 0] = torch.eye(768)
        model.ssl_proj.bias.zero_()
    ssl = embed[wanted].t().repeat_interleave(2, dim=1).unsqueeze(0) + 0.01 * torch.randn(1, 768, 8)
    codes = model.extract_latent(ssl)
    assert codes.shape == (1, 1, 4) and codes.dtype == torch.long
    assert codes[0, 0].tolist() == wanted.tolist()


def test_save_load_round_trip(tiny_sovits_config: dict, tmp_path: Path) -> None:
    model = _tiny(tiny_sovits_config)
    path = tmp_path / "tiny_e1_s2.pth"
    save_sovits(path, model.state_dict(), tiny_sovits_config, "1epoch_2iteration", "v2")
    ckpt = load_sovits(path)
    assert not any("enc_q" in k for k in ckpt.weight)
    assert all(t.dtype == torch.float16 for t in ckpt.weight.values())
    loaded = load_sovits_model(path)
    assert not hasattr(loaded, "enc_q") and not loaded.training
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    # the same as the original with its weights rounded to fp16 (what the file holds)
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    codes, text, refer = _inputs(n_phones=5)
    torch.testing.assert_close(
        loaded.decode(codes, text, [refer], 0.0), model.decode(codes, text, [refer], 0.0)
    )


def test_v1_symbols_and_reference_width(tiny_sovits_config: dict, tmp_path: Path) -> None:
    tiny_sovits_config["model"]["version"] = "v1"
    model = _tiny(tiny_sovits_config)
    assert model.enc_p.text_embedding.num_embeddings == 322
    assert model.ref_enc.spectral[0].fc.in_features == 1025  # v1 uses every spectrogram bin
    path = tmp_path / "v1.pth"
    save_sovits(path, model.state_dict(), tiny_sovits_config, "1epoch_1iteration", "v1")
    loaded = load_sovits_model(path)
    assert loaded.version == "v1" and loaded.ref_bins == 1025


def test_strict_loading_names_bad_keys(tiny_sovits_config: dict, tmp_path: Path) -> None:
    state = _tiny(tiny_sovits_config).state_dict()
    extra = tmp_path / "extra.pth"
    save_sovits(extra, {**state, "dec.surprise": torch.zeros(3)}, tiny_sovits_config, "x", "v2")
    with pytest.raises(CheckpointError, match=r"dec\.surprise") as info:
        load_sovits_model(extra)
    assert str(extra) in str(info.value)
    missing = tmp_path / "missing.pth"
    save_sovits(
        missing, {k: v for k, v in state.items() if k != "dec.cond.bias"}, tiny_sovits_config, "x", "v2"
    )
    with pytest.raises(CheckpointError, match=r"dec\.cond\.bias"):
        load_sovits_model(missing)


def test_training_step_gives_finite_losses_and_gradients(tiny_sovits_config: dict) -> None:
    torch.manual_seed(0)
    net_g = _tiny(tiny_sovits_config).train()  # frozen quantizer, as the official v2 config
    net_d = MultiPeriodDiscriminator().train()
    frames = 12
    ssl = torch.randn(2, 768, frames)  # 50 Hz features: 2 per semantic token
    spec = torch.rand(2, 1025, frames) * 3
    spec_lengths = torch.tensor([frames, frames - 4])
    text = torch.randint(0, 732, (2, 7))
    text_lengths = torch.tensor([7, 5])
    wav_hat, commit_loss, ids, y_mask, _, (_z, z_p, m_p, logs_p, _m_q, logs_q), _ = net_g(
        ssl, spec, spec_lengths, text, text_lengths
    )
    segment = net_g.segment_size
    assert wav_hat.shape == (2, 1, segment * HOP)
    wav_real = torch.randn(2, 1, segment * HOP) * 0.1
    real, fake, _, _ = net_d(wav_real, wav_hat.detach())
    loss_d, _, _ = discriminator_loss(real, fake)
    real, fake, fmap_r, fmap_g = net_d(wav_real, wav_hat)
    loss_gen, _ = generator_loss(fake)
    loss_g = loss_gen + feature_loss(fmap_r, fmap_g) + kl_loss(z_p, logs_q, m_p, logs_p, y_mask) + commit_loss
    for loss in (loss_d, loss_g, commit_loss):
        assert torch.isfinite(loss)
    loss_g.backward()
    grads = {n: p.grad for n, p in net_g.named_parameters() if p.requires_grad}
    # (the flow's WN weights get no gradient yet: its zero-initialised output layer blocks it)
    names = ["dec.ups.0.weight_g", "flow.flows.0.post.weight", "enc_q.enc.in_layers.0.weight_v"]
    names += ["enc_q.pre.weight", "enc_p.text_embedding.weight", "ref_enc.fc.fc.weight"]
    for name in names:
        assert grads[name] is not None and torch.isfinite(grads[name]).all(), name
        assert grads[name].abs().sum() > 0, name
    assert int(ids.min()) >= 0 and int(ids.max()) <= frames - segment
    assert net_g.ssl_proj.weight.grad is None  # frozen: no gradient into the semantic path


def test_quantizer_kmeans_init_and_ema_update() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(dimension=8, n_q=1, bins=2, kmeans_iters=10).train()
    book = rvq.vq.layers[0]._codebook
    assert not bool(book.inited) and book.embed.abs().sum() == 0
    centers = torch.tensor([[4.0] * 8, [-4.0] * 8])
    x = (centers.repeat(20, 1) + 0.1 * torch.randn(40, 8)).t().unsqueeze(0)  # [1, 8, 40], alternating
    quantized, codes, commit, _ = rvq(x)
    assert bool(book.inited) and codes.shape == (1, 1, 40)
    # both clusters found: the codes alternate like the input, quantized vectors sit near the input
    first, second = codes[0, 0, 0::2], codes[0, 0, 1::2]
    assert len(set(first.tolist())) == len(set(second.tolist())) == 1 and first[0] != second[0]
    assert (quantized - x).abs().max() < 1.0 and torch.isfinite(commit)
    before = book.embed.clone()
    rvq(x + 0.5)
    assert not torch.equal(before, book.embed)  # EMA moved the codebook in training mode
    rvq.eval()
    frozen = book.embed.clone()
    rvq(x + 0.5)
    assert torch.equal(frozen, book.embed)
    torch.testing.assert_close(rvq.decode(rvq.encode(x)), rvq(x)[0])


def test_infer_resynthesises_from_ssl(tiny_sovits_config: dict) -> None:
    model = _tiny(tiny_sovits_config)
    ssl, spec = torch.randn(1, 768, 16), torch.rand(1, 1025, 16)
    text = torch.randint(0, 732, (1, 6))
    wav, y_mask, (_z, _z_p, m_p, _logs_p) = model.infer(
        ssl, spec, torch.tensor([16]), text, torch.tensor([6]), 0.0
    )
    assert wav.shape == (1, 1, 16 * HOP) and y_mask.shape == (1, 1, 16)
    # with no noise the prior mean goes through the reverse flow, as in decode from the same codes
    codes = model.extract_latent(ssl)
    steps = sovits_decode_steps(model, codes, text, spec, noise_scale=0.0)
    torch.testing.assert_close(m_p, steps["enc_p_out_m_p"])
    torch.testing.assert_close(wav, steps["wav"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_decode_on_cuda_matches_cpu(tiny_sovits_config: dict) -> None:
    model = _tiny(tiny_sovits_config)
    codes, text, refer = _inputs()
    expected = model.decode(codes, text, [refer], noise_scale=0.0)
    cuda = model.to("cuda")
    got = cuda.decode(codes.cuda(), text.cuda(), [refer.cuda()], noise_scale=0.0)
    torch.testing.assert_close(got.cpu(), expected, atol=1e-4, rtol=0)


def test_other_versions_are_refused_by_name(tiny_sovits_config: dict, tmp_path: Path) -> None:
    path = tmp_path / "pro.pth"
    save_sovits(path, _tiny(tiny_sovits_config).state_dict(), tiny_sovits_config, "x", "v2Pro")
    with pytest.raises(CheckpointError, match="v2Pro") as info:
        load_sovits_model(path)
    assert str(path) in str(info.value)


def test_resblock_type_2_and_other_decoder_sizes(tiny_sovits_config: dict) -> None:
    model_cfg = tiny_sovits_config["model"]
    model_cfg.update(resblock="2", resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3], [1, 2]])
    model_cfg.update(
        upsample_rates=[8, 8, 10], upsample_kernel_sizes=[16, 16, 20], upsample_initial_channel=16
    )
    model = _tiny(tiny_sovits_config)
    assert "dec.resblocks.5.convs.1.weight_v" in model.state_dict()
    codes, text, refer = _inputs(n_codes=5)
    wav = model.decode(codes, text, [refer], noise_scale=0.0)
    assert wav.shape == (1, 1, 10 * 640) and torch.isfinite(wav).all()


def test_pretrained_style_weights_with_enc_q(tiny_sovits_config: dict, tmp_path: Path) -> None:
    """Pretrained s2G files keep enc_q: ignored for inference, loaded when asked for fine-tuning."""
    model = _tiny(tiny_sovits_config)
    path = tmp_path / "exported.pth"
    save_sovits(path, model.state_dict(), tiny_sovits_config, "x", "v2")
    full = dataclasses.replace(load_sovits(path), weight={k: v.half() for k, v in model.state_dict().items()})
    assert not hasattr(load_sovits_model(full), "enc_q")
    trainable = load_sovits_model(full, with_enc_q=True)
    torch.testing.assert_close(trainable.enc_q.pre.weight, model.enc_q.pre.weight.half().float())
    # an exported file (no enc_q) still loads for fine-tuning; enc_q keeps its fresh init
    assert hasattr(load_sovits_model(path, with_enc_q=True), "enc_q")


def test_folded_weight_norms_decode_bit_for_bit(tiny_sovits_config: dict) -> None:
    from GPT_SoVITS.models.sovits.commons import fold_weight_norms

    model = _tiny(tiny_sovits_config)
    codes, text, refer = _inputs(seed=3)
    noise = torch.randn(1, 192, 24, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        expected = model.decode(codes, text, [refer], 0.5, noise=noise)
    n_norms = sum(key.endswith("weight_g") for key in model.state_dict())
    assert fold_weight_norms(model) == n_norms > 0
    assert not any(key.endswith(("weight_g", "weight_v")) for key in model.state_dict())
    assert fold_weight_norms(model) == 0  # nothing left to fold
    with torch.inference_mode():
        assert torch.equal(model.decode(codes, text, [refer], 0.5, noise=noise), expected)
    official = _tiny(tiny_sovits_config)
    official.dec.remove_weight_norm()  # the official method folds the decoder's alone
    assert not any(k.endswith("weight_g") for k in official.dec.state_dict())
    assert any(k.endswith("weight_g") for k in official.state_dict())
