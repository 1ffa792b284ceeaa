"""Training speed of the full-size v2 architectures: SoVITS (s2.json) and GPT (s1longer-v2.yaml) samples/s.

    python -m bench.train [--device auto] [--steps 3] [--sovits-batch 4] [--gpt-batch 8] [--seconds 4]

Random data of the real shapes: ``--seconds`` clips (50 Hz HuBERT features, 32 kHz spectrograms, 10 phones
per second; 25 semantic codes per second for the GPT). One warm-up step, then ``--steps`` timed steps of
the trainers' own step code (``train.sovits_step.train_step``; the GPT train_loss + backward +
ScaledAdamLite step). On CUDA both run with fp16 autocast as the trainers default to; fp32 on CPU.
"""

from __future__ import annotations

import argparse
import time

import torch

from GPT_SoVITS.config.gpt import default_gpt_config
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.devices import resolve_device
from GPT_SoVITS.models.gpt.training import train_loss
from GPT_SoVITS.train.common import Amp, seed_everything
from GPT_SoVITS.train.optim import ScaledAdamLite
from GPT_SoVITS.train.sovits_step import build_nets, set_epoch_lr, train_step


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--steps", type=int, default=3, help="timed steps per model (after one warm-up step)")
    p.add_argument("--sovits-batch", type=int, default=4, help="SoVITS batch size")
    p.add_argument("--gpt-batch", type=int, default=8, help="GPT batch size")
    p.add_argument("--seconds", type=float, default=4.0, help="clip length of the random batch")
    p.add_argument("--skip", choices=["sovits", "gpt"], default=None, help="leave one model out")
    return p.parse_args(argv)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(step, steps: int, device: torch.device) -> float:
    step()  # warm-up (allocator, kernels)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - start) / steps


def bench_sovits(args: argparse.Namespace, device: torch.device, amp: Amp) -> str:
    cfg = SoVITSConfig()
    nets = build_nets(cfg, device)
    nets.g.train()
    nets.d.train()
    with torch.no_grad():
        book = nets.g_core.quantizer.vq.layers[0]._codebook
        book.inited.fill_(1)  # as after loading pretrained weights: no k-means on the first batch
    set_epoch_lr(nets, 1, cfg.train.lr_decay)
    b, frames = args.sovits_batch, int(args.seconds * 50)
    phones = int(args.seconds * 10)
    batch = (
        torch.randn(b, 768, frames),
        torch.full((b,), frames),
        torch.rand(b, 1025, frames) * 5,
        torch.full((b,), frames),
        torch.randn(b, 1, frames * cfg.data.hop_length) * 0.1,
        torch.full((b,), frames * cfg.data.hop_length),
        torch.randint(1, 700, (b, phones)),
        torch.full((b,), phones),
    )
    seconds = _time(lambda: train_step(nets, batch, cfg, amp), args.steps, device)
    n_g = sum(p.numel() for p in nets.g.parameters()) / 1e6
    n_d = sum(p.numel() for p in nets.d.parameters()) / 1e6
    return (
        f"SoVITS v2 (G {n_g:.1f} M + D {n_d:.1f} M params), batch {b} x {args.seconds:g} s: "
        f"{seconds:.2f} s/step, {b / seconds:.2f} samples/s"
    )


def bench_gpt(args: argparse.Namespace, device: torch.device, amp: Amp) -> str:
    from GPT_SoVITS.models.gpt import build_gpt

    cfg = default_gpt_config("v2")
    model = build_gpt(cfg.to_dict()).to(device).train()
    opt = ScaledAdamLite(model.parameters(), lr=0.002)
    b, phones, codes = args.gpt_batch, int(args.seconds * 10), int(args.seconds * 25)
    x = torch.randint(1, 700, (b, phones), device=device)
    y = torch.randint(0, 1024, (b, codes), device=device)
    x_lens = torch.full((b,), phones, device=device)
    y_lens = torch.full((b,), codes, device=device)
    bert = torch.randn(b, 1024, phones, device=device)

    def step() -> None:
        with amp.autocast():
            loss, _ = train_loss(model, x, x_lens, y, y_lens, bert)
        amp.scaler.scale(loss).backward()
        amp.scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.gradient_clip)
        amp.scaler.step(opt)
        amp.scaler.update()
        opt.zero_grad(set_to_none=True)

    seconds = _time(step, args.steps, device)
    n = sum(p.numel() for p in model.parameters()) / 1e6
    return (
        f"GPT v2 ({n:.1f} M params), batch {b} x ({phones} phones + {codes} codes): "
        f"{seconds:.2f} s/step, {b / seconds:.2f} samples/s"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.steps < 1 or args.seconds <= 0.7:
        print("error: --steps must be >= 1 and --seconds > 0.7")
        return 2
    device = resolve_device(args.device)
    amp = Amp(device, torch.float16 if device.type == "cuda" else torch.float32)
    seed_everything(0)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(f"training throughput on {device} ({name}), torch {torch.__version__}")
    if args.skip != "gpt":
        print(bench_gpt(args, device, amp), flush=True)
    if args.skip != "sovits":
        print(bench_sovits(args, device, amp), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
