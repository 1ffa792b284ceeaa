"""Speed of the v3/v4 acoustic stages (CFM sampling steps, vocoder) against floors measured in the run.

    python -m bench.cfm [--version v4] [--steps 8] [--threads 2] [--device cpu] [--precision fp32]

Full-size official models with random weights: the DiT of SynthesizerTrnV3 (dim 1024, depth 22,
16 heads; ``--small`` uses a reduced one for smoke runs) sampling one full chunk as the pipeline does
(T_ref prompt frames + the rest of T_chunk new frames), then the version's vocoder (v3: BigVGAN 24 kHz,
v4: the 48 kHz HiFi-GAN) on the new frames. Floors: each stage's multiply-add FLOPs (Linear / Conv1d /
ConvTranspose1d layers counted with hooks, plus the attention products of the DiT) / the measured
matmul rate (best of the samples before and after the run). Prints seconds, floor seconds and their
ratio per stage, and the real-time factor of the new audio. Never asserts.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.inference import count_flops, sgemm_rate, sync
from GPT_SoVITS.devices import resolve_device, resolve_dtype
from GPT_SoVITS.models.cfm import CFM, DiTConfig
from GPT_SoVITS.models.cfm.dit import Attention
from GPT_SoVITS.models.v3v4.load import VOCODER_SPECS
from GPT_SoVITS.models.vocoder import BigVGAN, BigVGANConfig, V4VocoderConfig, build_v4_vocoder

SMALL_DIT = DiTConfig(dim=256, depth=4, heads=4, conv_layers=1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.cfm", description=__doc__.splitlines()[0])
    p.add_argument("--version", default="v4", choices=("v3", "v4"), help="model generation")
    p.add_argument("--steps", type=int, default=8, choices=(4, 8, 16, 32), help="CFM sampling steps")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"), help="model precision")
    p.add_argument("--small", action="store_true", help="reduced DiT and vocoder widths (smoke runs)")
    return p.parse_args(argv)


def attention_flops(cfm: CFM, run) -> float:
    """FLOPs of the attention products (q k^T and attn v) of every DiT block while ``run()`` executes."""
    total = [0.0]

    def hook(m: Attention, inputs: tuple, out: torch.Tensor) -> None:
        b, t, inner = inputs[0].shape[0], inputs[0].shape[1], m.to_q.out_features
        total[0] += 2 * 2 * b * t * t * inner

    handles = [m.register_forward_hook(hook) for m in cfm.modules() if isinstance(m, Attention)]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return total[0]


def build(version: str, small: bool) -> tuple[CFM, torch.nn.Module]:
    torch.manual_seed(0)
    cfm = CFM(100, SMALL_DIT if small else DiTConfig())
    if version == "v3":
        vocoder = BigVGAN(
            BigVGANConfig(upsample_initial_channel=128 if small else 1536, use_tanh_at_final=False)
        )
        vocoder.remove_weight_norm()
    else:
        vocoder = build_v4_vocoder(V4VocoderConfig(upsample_initial_channel=64 if small else 512))
    return cfm.eval(), vocoder.eval()


def timed(device: torch.device, run) -> tuple[float, object]:
    sync(device)
    t = time.perf_counter()
    out = run()
    sync(device)
    return time.perf_counter() - t, out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.precision, device)
    vspec = VOCODER_SPECS[args.version]
    cfm, vocoder = build(args.version, args.small)
    cfm, vocoder = cfm.to(device, dtype), vocoder.to(device, dtype)
    prompt_frames, total = vspec.t_ref, vspec.t_chunk
    new_frames = total - prompt_frames
    mu = torch.randn(1, total, cfm.estimator.cfg.text_dim, device=device, dtype=dtype)
    prompt = torch.randn(1, 100, prompt_frames, device=device, dtype=dtype)
    lens = torch.tensor([total], device=device)
    rates = [sgemm_rate(device, dtype, repeats=3)]

    def sample() -> torch.Tensor:
        with torch.inference_mode():
            return cfm.inference(mu, lens, prompt, args.steps)

    def vocode(mel: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return vocoder(mel)

    sample()  # warm-up (allocations, kernels)
    t_cfm, mel = timed(device, sample)
    mel = mel[:, :, prompt_frames:]
    vocode(mel)
    t_voc, audio = timed(device, lambda: vocode(mel))
    rates.append(sgemm_rate(device, dtype, repeats=3))
    rate = max(rates)
    flops_cfm = count_flops(cfm, sample) + attention_flops(cfm, sample)
    flops_voc = count_flops(vocoder, lambda: vocode(mel))
    seconds = audio.shape[-1] / vspec.sr
    params = sum(p.numel() for p in cfm.parameters()) / 1e6
    print(
        f"bench.cfm: {args.version}, random weights (DiT {params:.0f} M), {args.steps} steps, "
        f"{prompt_frames} prompt + {new_frames} new frames -> {seconds:.2f} s of audio at {vspec.sr} Hz; "
        f"{device}, {str(dtype).removeprefix('torch.')}, matmul rate {rate / 1e9:.0f} GFLOP/s"
    )
    print(f"{'stage':<10}{'time s':>9}{'floor s':>9}{'ratio':>7}")
    for name, t, flops in (("cfm", t_cfm, flops_cfm), ("vocoder", t_voc, flops_voc)):
        floor = flops / rate
        print(f"{name:<10}{t:>9.2f}{floor:>9.2f}{t / floor:>7.2f}")
    total_t = t_cfm + t_voc
    floor_t = (flops_cfm + flops_voc) / rate
    print(f"{'total':<10}{total_t:>9.2f}{floor_t:>9.2f}{total_t / floor_t:>7.2f}")
    print(f"per CFM step {t_cfm / args.steps:.3f} s; real-time factor {total_t / seconds:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
