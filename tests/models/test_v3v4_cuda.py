"""The v3/v4 models on CUDA give the CPU's results (float32, TF32 off) and run in half precision."""

from __future__ import annotations

import pytest
import torch

from GPT_SoVITS.models.cfm import CFM, DiTConfig
from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3, V3Sizes
from GPT_SoVITS.models.vocoder import BigVGAN, BigVGANConfig, V4VocoderConfig, build_v4_vocoder

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
DIT = DiTConfig(dim=128, depth=2, heads=2, conv_layers=1)


@pytest.fixture(autouse=True)
def no_tf32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def test_cfm_sampling_matches_the_cpu() -> None:
    torch.manual_seed(0)
    cfm = CFM(100, DIT).eval()
    mu, prompt, noise = torch.randn(1, 300, 512), torch.randn(1, 100, 120), torch.randn(1, 100, 300)
    lens = torch.tensor([300])
    cpu = cfm.inference(mu, lens, prompt, 8, noise=noise)
    gpu = cfm.cuda().inference(mu.cuda(), lens.cuda(), prompt.cuda(), 8, noise=noise.cuda())
    assert (gpu.cpu() - cpu).abs().max() < 1e-3
    half = cfm.half().inference(
        mu.cuda().half(), lens.cuda(), prompt.cuda().half(), 8, noise=noise.cuda().half()
    )
    assert torch.isfinite(half).all() and (half.float().cpu() - cpu).abs().mean() < 0.05


@pytest.mark.parametrize("kind", ["bigvgan", "v4"])
def test_vocoders_match_the_cpu(kind: str) -> None:
    torch.manual_seed(0)
    if kind == "bigvgan":
        voc = BigVGAN(BigVGANConfig(upsample_initial_channel=64, use_tanh_at_final=False))
        voc.remove_weight_norm()
    else:
        voc = build_v4_vocoder(V4VocoderConfig(upsample_initial_channel=64))
    mel = torch.randn(1, 100, 50) - 4
    with torch.no_grad():
        cpu = voc.eval()(mel)
        gpu = voc.cuda()(mel.cuda()).cpu()
    assert gpu.shape == cpu.shape and (gpu - cpu).abs().max() < 1e-4


def test_decode_encp_matches_the_cpu() -> None:
    torch.manual_seed(0)
    sizes = V3Sizes(dit=DIT, wns1_layers=1)
    model = SynthesizerTrnV3(192, 192, 128, 2, 2, 3, 0.0, 512, version="v3", sizes=sizes).eval()
    codes, text, refer = (
        torch.randint(0, 1024, (1, 1, 40)),
        torch.randint(0, 732, (1, 15)),
        torch.rand(1, 1025, 90),
    )
    fea, ge = model.decode_encp(codes, text, refer)
    fea_g, ge_g = model.cuda().decode_encp(codes.cuda(), text.cuda(), refer.cuda())
    assert fea.shape == (1, 512, 150)
    assert (fea_g.cpu() - fea).abs().max() < 1e-3 and (ge_g.cpu() - ge).abs().max() < 1e-3
