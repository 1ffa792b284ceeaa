"""Tiny models and synthetic experiments for the training tests (numpy audio, random features).

``make_experiment`` writes a complete official experiment folder without the prepare stages (those have
their own end-to-end test with espeak-ng speech), so trainer tests stay fast.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from GPT_SoVITS.config.gpt import GPTConfig
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.data.experiment import Experiment, TextRecord, write_name2semantic, write_name2text
from GPT_SoVITS.text.symbols import symbols

REPO = Path(__file__).resolve().parents[2]
ZH_PHONES = ["n", "i3", "h", "ao3", "sh", "ang4", "x", "ve2", "zh", "ong1", "g", "uo2"]
EN_PHONES = ["HH", "AH0", "L", "OW1", "W", "ER1", "D", "K", "AE1", "T"]


def tiny_sovits_config() -> dict:
    """A SoVITS v2 config small enough for CPU tests (4-frame decoder slices)."""
    cfg = SoVITSConfig()
    m = cfg.model
    # inter/hidden 192 and gin 512 stay: the MRTE block hard-wires them (as the official one)
    m.filter_channels = 64
    m.n_layers = 1
    m.upsample_initial_channel = 32
    m.resblock_kernel_sizes = [3]
    m.resblock_dilation_sizes = [[1, 3]]
    cfg.train.segment_size = 640 * 4
    cfg.train.batch_size = 4
    cfg.train.epochs = 2
    return cfg.to_dict()


def tiny_gpt_config() -> dict:
    cfg = GPTConfig()
    m = cfg.model
    m.embedding_dim = m.hidden_dim = 32
    m.head = 2
    m.n_layer = 1
    m.linear_units = 128
    cfg.train.batch_size = 4
    cfg.train.epochs = 2
    cfg.optimizer.warmup_steps = 4
    cfg.optimizer.decay_steps = 40
    return cfg.to_dict()


def save_tiny_sovits(path: Path, seed: int = 0, version: str = "v2", sv_input_dim: int | None = None) -> Path:
    """A random tiny SoVITS exported in the official format (stands in for the pretrained s2G).

    version "v2Pro"/"v2ProPlus": with the SV branch, ``sv_emb`` taking ``sv_input_dim`` inputs (the width of
    the SV model the test uses)."""
    from GPT_SoVITS.checkpoints import save_sovits
    from GPT_SoVITS.models.sovits import build_sovits

    torch.manual_seed(seed)
    config = tiny_sovits_config()
    config["model"]["version"] = version
    model = build_sovits(config, with_enc_q=True, sv_input_dim=sv_input_dim)
    with torch.no_grad():  # a spread-out codebook so different features give different codes
        book = model.quantizer.vq.layers[0]._codebook
        book.embed.normal_(0, 0.6)
        book.embed_avg.copy_(book.embed)
        book.inited.fill_(1)
    save_sovits(path, model.state_dict(), config, "0epoch_0iteration", version)
    return path


def save_tiny_gpt(path: Path, seed: int = 0) -> Path:
    from GPT_SoVITS.checkpoints import save_gpt
    from GPT_SoVITS.models.gpt import build_gpt

    torch.manual_seed(seed)
    config = tiny_gpt_config()
    save_gpt(path, build_gpt(config).state_dict(), config, "GPT-e0")
    return path


def clip(seconds: float, f0: float, sr: int = 32000, seed: int = 0) -> np.ndarray:
    """A voiced-like signal: harmonics with a slow pitch wobble plus a little noise, peak 0.5."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))) / sr
    wav = sum(np.sin(k * phase) / k for k in range(1, 6))
    wav = wav + 0.02 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.5 * wav / np.abs(wav).max()).astype(np.float32)


def make_experiment(root: Path, sovits_path: Path, n: int = 6, seed: int = 0) -> Experiment:
    """Experiment with n clips (1.0-1.9 s), random HuBERT features, phones, BERT for the zh ones, codes."""
    from GPT_SoVITS.models.sovits import load_sovits_model

    rng = np.random.default_rng(seed)
    exp = Experiment(root)
    for d in (exp.wav_dir, exp.hubert_dir, exp.bert_dir):
        d.mkdir(parents=True, exist_ok=True)
    table = set(symbols("v2"))
    assert set(ZH_PHONES) <= table and set(EN_PHONES) <= table
    records, codes = [], {}
    model = load_sovits_model(sovits_path)
    for i in range(n):
        name = f"clip{i}.wav"
        seconds = 1.0 + 0.15 * i
        wav = clip(seconds, 110 + 20 * i, seed=seed + i)
        sf.write(exp.wav_path(name), (wav * 32767).astype(np.int16), 32000, subtype="PCM_16")
        frames = int(seconds * 32000) // 640
        ssl = torch.from_numpy(rng.standard_normal((1, 768, frames)).astype(np.float32))
        torch.save(ssl, exp.hubert_path(name))
        zh = i % 2 == 0
        pool = ZH_PHONES if zh else EN_PHONES
        n_ph = int(seconds * 10)  # 10 phones per second: inside the GPT filter (3-25)
        phones = tuple(pool[j % len(pool)] for j in range(n_ph))
        word2ph = tuple([1] * n_ph) if zh else None
        records.append(TextRecord(name, phones, word2ph, "x" * n_ph))
        if zh:
            torch.save(torch.randn(1024, n_ph), exp.bert_path(name))
        codes[name] = model.extract_latent(ssl)[0, 0].tolist()
    write_name2text(exp.name2text, records)
    write_name2semantic(exp.name2semantic, codes)
    return exp


def copy_experiment(src: Experiment, dst: Path) -> Experiment:
    import shutil

    shutil.copytree(src.root, dst)
    return Experiment(dst)


def run_module(module: str, *args: str | os.PathLike, timeout: float = 300, env: dict | None = None):
    """``python -m module args`` from the repo root; returns the CompletedProcess (text)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        check=False,
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_torchrun(module: str, *args: str | os.PathLike, timeout: float = 600):
    """``torchrun --standalone``: 2 CPU processes of ``python -m module args``, from the repo root."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun is installed with torch"
    argv = [torchrun, "--standalone", "--nnodes", "1", "--nproc-per-node", "2", "-m", module, *map(str, args)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        argv, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def deep(d: dict) -> dict:
    return copy.deepcopy(d)
