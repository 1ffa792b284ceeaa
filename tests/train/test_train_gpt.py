"""train.gpt end to end as a subprocess on a synthetic experiment: export, resume after kill -9, DDP, DPO."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from GPT_SoVITS.checkpoints import load_gpt
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.progress import read_progress
from tests.train.synth import REPO, run_module, run_torchrun

MODULE = "GPT_SoVITS.train.gpt"


def gpt_args(exp: Experiment, pretrained: Path, weights: Path, *extra: str) -> list[str]:
    return [
        "--exp", str(exp.root), "--pretrained", str(pretrained), "--weights-dir", str(weights),
        "--device", "cpu", "--min-epoch-items", "0", "--accumulate", "1", "--log-interval", "1", *extra,
    ]  # fmt: skip


def metric_events(exp: Experiment) -> list[dict]:
    return [e for e in read_progress(exp.root) if e["event"] == "metric"]


def test_two_epochs_export_official_weights(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    from GPT_SoVITS.models.gpt import load_gpt_model

    weights = tmp_path / "GPT_weights"
    r = run_module(
        MODULE, *gpt_args(experiment, pretrained["gpt"], weights, "--epochs", "2", "--batch-size", "2")
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in weights.iterdir()) == ["exp-e1.ckpt", "exp-e2.ckpt"]
    ckpt = load_gpt(weights / "exp-e2.ckpt")
    assert ckpt.info == "GPT-e2"
    assert all(k.startswith("model.") and v.dtype == torch.float16 for k, v in ckpt.weight.items())
    assert ckpt.config["model"]["hidden_dim"] == 32
    model = load_gpt_model(weights / "exp-e2.ckpt")  # strict load into a fresh model
    start = load_gpt(pretrained["gpt"]).weight
    assert any(not torch.equal(start[k], ckpt.weight[k]) for k in start)  # it trained
    metrics = metric_events(experiment)
    assert len(metrics) == 6  # 6 items, batch 2, 2 epochs
    assert all(torch.isfinite(torch.tensor(e["loss/total"])) for e in metrics)
    assert all(e["samples_per_s"] > 0 and e["eta_s"] >= 0 for e in metrics)
    assert metrics[-1]["eta_s"] == 0
    events = [e["event"] for e in read_progress(experiment.root)]
    assert events[-1] == "end" and events.count("saved") == 2
    assert list((experiment.root / "logs_s1_v2").glob("events.out.tfevents.*"))
    assert model.eos == 1024


def test_refuses_mismatched_bert_and_names_it(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    torch.save(torch.zeros(1024, 3), experiment.bert_path("clip0.wav"))
    r = run_module(MODULE, *gpt_args(experiment, pretrained["gpt"], tmp_path / "w", "--epochs", "1"))
    assert r.returncode == 2
    assert "clip0.wav" in r.stderr and "mismatched phone/BERT length" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _readable(folder: Path) -> list[Path]:
    """Every final file (temp files of an interrupted write are dot-prefixed and ignored) must load."""
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    for p in files:
        if p.suffix in (".ckpt", ".pth"):
            torch.load(p, map_location="cpu", weights_only=False)
    return files


@pytest.mark.slow
def test_kill_and_resume_matches_uninterrupted_run(
    experiment: Experiment, pretrained, tmp_path: Path
) -> None:
    """kill -9 at three random steps; each restart resumes from the newest checkpoint and the final
    weights equal those of a run that was never interrupted (training is deterministic here)."""
    extra = ["--epochs", "3", "--batch-size", "2", "--save-every-steps", "3", "--min-epoch-items", "60"]
    extra += ["--name", "exp"]
    ref_exp = Experiment(tmp_path / "ref")
    shutil.copytree(experiment.root, ref_exp.root)
    ref_w = tmp_path / "ref_w"
    r = run_module(MODULE, *gpt_args(ref_exp, pretrained["gpt"], ref_w, *extra))
    assert r.returncode == 0, r.stderr
    total = metric_events(ref_exp)[-1]["step"]
    weights = tmp_path / "w"
    ckpt_dir = experiment.root / "logs_s1_v2"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", MODULE, *gpt_args(experiment, pretrained["gpt"], weights, *extra)]
    rng = random.Random(7)
    third = total // 3
    targets = [rng.randrange(k * third + 5, (k + 1) * third - 2) for k in range(3)]  # one per third
    for target in targets:
        before = len(metric_events(experiment))
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            steps = [e["step"] for e in metric_events(experiment)[before:]]
            if steps and steps[-1] >= target:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for folder in (weights, ckpt_dir):
            if folder.exists():
                _readable(folder)
        saved = sorted(int(p.stem.split("_")[1]) for p in ckpt_dir.glob("GPT_*.pth"))
        assert saved and saved[-1] <= metric_events(experiment)[-1]["step"]
        n_events = len(read_progress(experiment.root))
        r = subprocess.run(
            [*argv, "--max-steps", str(saved[-1] + 1)],
            check=False,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        start = next(e for e in read_progress(experiment.root)[n_events:] if e["event"] == "start")
        assert start["step"] == saved[-1]  # resumed exactly at the newest checkpoint
        assert metric_events(experiment)[-1]["step"] == saved[-1] + 1
        assert len(list(ckpt_dir.glob("GPT_*.pth"))) <= 2  # keep-latest rotation
    r = subprocess.run(argv, check=False, cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in _readable(weights)) == ["exp-e1.ckpt", "exp-e2.ckpt", "exp-e3.ckpt"]
    final, ref = load_gpt(weights / "exp-e3.ckpt").weight, load_gpt(ref_w / "exp-e3.ckpt").weight
    for k in ref:
        torch.testing.assert_close(final[k].float(), ref[k].float(), atol=2e-3, rtol=0)


@pytest.mark.slow
def test_ddp_two_gloo_processes(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    weights = tmp_path / "w"
    args = gpt_args(experiment, pretrained["gpt"], weights, "--epochs", "1", "--batch-size", "1")
    r = run_torchrun(MODULE, *args, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = load_gpt(weights / "exp-e1.ckpt")
    assert ckpt.info == "GPT-e1"
    metrics = metric_events(experiment)
    assert metrics and metrics[-1]["step"] == 3  # 6 items over 2 ranks with batch 1: 3 steps each
    assert [e["event"] for e in read_progress(experiment.root)].count("end") == 1  # rank 0 reports alone


def test_auto_batch_size_and_sample_synthesis(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    r = run_module(
        MODULE,
        *gpt_args(experiment, pretrained["gpt"], tmp_path / "w", "--epochs", "1", "--batch-size", "auto"),
        "--sample-sovits",
        pretrained["sovits"],
    )
    assert r.returncode == 0, r.stderr
    start = next(e for e in read_progress(experiment.root) if e["event"] == "start")
    assert start["batch_size"] == 4  # the config's, capped at the data (6 items) on CPU
    sample = next(e["path"] for e in read_progress(experiment.root) if e["event"] == "sample")
    wav, sr = sf.read(sample)
    assert sr == 32000 and len(wav) >= 640 and np.isfinite(wav).all()


def test_dpo_loss_trains(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    r = run_module(
        MODULE,
        *gpt_args(
            experiment, pretrained["gpt"], tmp_path / "w", "--epochs", "1", "--batch-size", "3", "--dpo"
        ),
    )
    assert r.returncode == 0, r.stderr
    losses = [e["loss/total"] for e in metric_events(experiment)]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    assert load_gpt(tmp_path / "w" / "exp-e1.ckpt").info == "GPT-e1"
