"""Comparison-task throughput: one renderer for all items against one CLI call per item.

    python -m bench.refselect [--refs 3] [--temps 2] [--sentences 3] [--baseline-items N] [--device cpu]

Tiny random v1 models (the test architecture), speech-like reference clips made with numpy. The task is
rendered by ``python -m GPT_SoVITS.refselect run`` (one process, models loaded once); the baseline renders
the same items (same reference, text, temperature, seed) with ``python -m GPT_SoVITS.inference``, one
process per item, as a user scripting the CLI would. Both are timed from process start to exit and
printed as items per minute, with their ratio. ``--baseline-items`` times only the first N items of the
baseline (its rate is per item). Never asserts: absolute numbers drift with machine load.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SENTENCES = ("今天天气很好。", "我们去公园散步吧。", "她说你好。", "明天见。")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.refselect", description=__doc__.splitlines()[0])
    p.add_argument("--refs", type=int, default=3, help="reference clips compared")
    p.add_argument("--temps", type=int, default=2, help="temperatures compared")
    p.add_argument(
        "--sentences", type=int, default=3, choices=range(1, len(SENTENCES) + 1), help="test sentences"
    )
    p.add_argument(
        "--baseline-items", type=int, default=0, help="time only this many baseline items (0: all)"
    )
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    return p.parse_args(argv)


def speech_like(seconds: float, sr: int, seed: int) -> np.ndarray:
    """Voiced syllables (harmonics, moving pitch) with short pauses, peak 0.5."""
    t = np.arange(int(seconds * sr)) / sr
    pitch = (110 + 30 * seed) * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * (np.sin(2 * np.pi * 2.5 * t) > -0.3)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.5 * (voice + noise) / np.max(np.abs(voice + noise))).astype(np.float32)


def make_models(folder: Path) -> tuple[Path, Path, Path]:
    """(GPT, SoVITS, HuBERT folder): tiny random models in the official formats."""
    import torch

    from GPT_SoVITS.checkpoints import save_gpt, save_sovits
    from GPT_SoVITS.models.gpt import build_gpt
    from GPT_SoVITS.models.sovits import build_sovits
    from tests.inference.conftest import TINY_GPT_CONFIG, TINY_SOVITS_CONFIG
    from tests.tiny_models import make_tiny_hubert

    torch.manual_seed(0)
    gpt_cfg = copy.deepcopy(TINY_GPT_CONFIG)
    save_gpt(folder / "tiny-e1.ckpt", build_gpt(gpt_cfg).state_dict(), gpt_cfg, "GPT-e1")
    sovits_cfg = copy.deepcopy(TINY_SOVITS_CONFIG)
    model = build_sovits(sovits_cfg)
    for name, buf in model.named_buffers():
        if name.endswith("inited"):
            buf.fill_(1.0)
    save_sovits(folder / "tiny_e1_s1.pth", model.state_dict(), sovits_cfg, "1epoch_1iteration", version="v1")
    return folder / "tiny-e1.ckpt", folder / "tiny_e1_s1.pth", make_tiny_hubert(folder / "hubert")


def timed(cmd: list[str]) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from GPT_SoVITS.refselect import library
    from GPT_SoVITS.refselect.db import Library
    from GPT_SoVITS.refselect.tasks import TaskSpec, create_task, pending_items

    with tempfile.TemporaryDirectory(prefix="bench-refselect-") as tmp:
        folder = Path(tmp)
        gpt, sovits, hubert = make_models(folder)
        lib = Library(folder / "refs")
        library.create_role(lib, "bench")
        for i in range(args.refs):
            sf.write(folder / f"ref{i}.wav", speech_like(4.0, 32000, i + 1), 32000)
            library.add_file(lib, "bench", folder / f"ref{i}.wav", "今天天气很好。", "zh")
        clips = [c["id"] for c in library.clips(lib, "bench")]
        temps = [round(0.6 + 0.4 * i, 2) for i in range(args.temps)]
        spec = TaskSpec(
            clips,
            [str(gpt)],
            [str(sovits)],
            list(SENTENCES[: args.sentences]),
            "zh",
            {"temperature": temps},
            {"seed": 1, "max_retries": 0},
        )
        task_id = create_task(lib, "bench", spec)
        items = [i["params"] for i in pending_items(lib, task_id)]
        common = ["--no-bert", "--hubert", str(hubert), "--device", args.device]
        run = [
            sys.executable,
            "-m",
            "GPT_SoVITS.refselect",
            "--root",
            str(lib.root),
            "run",
            "--task",
            str(task_id),
        ]
        task_s = timed([*run, *common])
        baseline = items[: args.baseline_items] if args.baseline_items else items
        one_s = 0.0
        for n, p in enumerate(baseline):
            cmd = [
                sys.executable,
                "-m",
                "GPT_SoVITS.inference",
                "--gpt",
                p["gpt"],
                "--sovits",
                p["sovits"],
                "--ref-audio",
                str(lib.abspath(p["ref"])),
                "--prompt-text",
                p["prompt_text"],
                "--prompt-lang",
                p["prompt_lang"],
                "--text",
                p["text"],
                "--text-lang",
                p["text_lang"],
                "--temperature",
                str(p["temperature"]),
                "--seed",
                "1",
                "--max-retries",
                "0",
                "--out",
                str(folder / f"one{n}.wav"),
                *common,
            ]
            one_s += timed(cmd)
    task_rate = 60 * len(items) / task_s
    one_rate = 60 * len(baseline) / one_s
    print(f"items: {len(items)} ({args.refs} refs x {args.temps} temperatures x {args.sentences} sentences)")
    print(
        f"comparison task : {task_rate:8.1f} items/min ({task_s:.1f} s for {len(items)} items, one process)"
    )
    print(f"one CLI per item: {one_rate:8.1f} items/min ({one_s:.1f} s for {len(baseline)} items)")
    print(f"ratio task / one-at-a-time = {task_rate / one_rate:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
