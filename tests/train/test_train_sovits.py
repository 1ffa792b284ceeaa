"""train.sovits: refusal of an inconsistent experiment, the official step learning, CLI export."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from GPT_SoVITS.checkpoints import load_sovits
from GPT_SoVITS.config.sovits import SoVITSConfig
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.data.sovits_dataset import SoVITSDataset, collate_sovits
from GPT_SoVITS.progress import read_progress
from GPT_SoVITS.train.cli import phone_mapper
from GPT_SoVITS.train.common import Amp, seed_everything
from GPT_SoVITS.train.sovits_step import build_nets, load_pretrained, set_epoch_lr, train_step
from tests.train.synth import run_module, run_torchrun, tiny_sovits_config

MODULE = "GPT_SoVITS.train.sovits"


def test_refuses_missing_features_and_names_the_items(
    experiment: Experiment, pretrained, tmp_path: Path
) -> None:
    experiment.hubert_path("clip3.wav").unlink()
    experiment.wav_path("clip4.wav").unlink()
    r = run_module(
        MODULE, "--exp", experiment.root, "--pretrained-g", pretrained["sovits"],
        "--weights-dir", tmp_path / "w", "--device", "cpu", "--epochs", "1",
    )  # fmt: skip
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "\n" not in line
    assert "missing in hubert: clip3.wav" in line and "missing in wav32k: clip4.wav" in line
    assert not (tmp_path / "w").exists()
    end = read_progress(experiment.root)[-1]
    assert end["event"] == "end" and end["ok"] is False


@pytest.mark.slow
def test_mel_loss_falls_on_a_repeated_batch(experiment: Experiment, pretrained) -> None:
    seed_everything(0)
    cfg = SoVITSConfig.from_dict(tiny_sovits_config())
    cfg.train.learning_rate = 1e-3
    ds = SoVITSDataset(experiment, ["clip0.wav", "clip1.wav"], phone_mapper("v2"), cfg.data, min_items=0)
    batch = collate_sovits([ds[0], ds[1]])
    nets = build_nets(cfg, torch.device("cpu"))
    load_pretrained(nets, pretrained["sovits"], None)
    set_epoch_lr(nets, 1, cfg.train.lr_decay)
    amp = Amp(torch.device("cpu"), torch.float32)
    mels = []
    for _ in range(8):
        values = train_step(nets, batch, cfg, amp)
        assert all(math.isfinite(v) for v in values.values()), values
        mels.append(values["loss/g/mel"])
    assert sum(mels[-3:]) / 3 < 0.8 * mels[0], mels


@pytest.mark.slow
def test_two_epochs_export_official_weights(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    from GPT_SoVITS.models.sovits import load_sovits_model

    weights = tmp_path / "SoVITS_weights"
    r = run_module(
        MODULE, "--exp", experiment.root, "--pretrained-g", pretrained["sovits"], "--weights-dir", weights,
        "--device", "cpu", "--epochs", "2", "--batch-size", "6", "--min-epoch-items", "0",
        "--log-interval", "1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in weights.iterdir()) == ["exp_e1_s1.pth", "exp_e2_s2.pth"]
    ckpt = load_sovits(weights / "exp_e2_s2.pth")
    assert ckpt.info == "2epoch_2iteration"
    assert not any("enc_q" in k for k in ckpt.weight)
    assert all(v.dtype == torch.float16 for v in ckpt.weight.values() if v.is_floating_point())
    assert ckpt.config["model"]["filter_channels"] == 64 and ckpt.config["train"]["epochs"] == 2
    load_sovits_model(ckpt)  # strict load into the inference model
    start = load_sovits(pretrained["sovits"]).weight
    assert any(not torch.equal(start[k], ckpt.weight[k]) for k in ckpt.weight if k.startswith("dec."))
    events = read_progress(experiment.root)
    metrics = [e for e in events if e["event"] == "metric"]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(math.isfinite(m["loss/g/mel"]) and math.isfinite(m["loss/d/total"]) for m in metrics)
    samples = [e["path"] for e in events if e["event"] == "sample"]
    assert len(samples) == 2 and all(Path(p).stat().st_size > 1000 for p in samples)
    ckpt_dir = experiment.root / "logs_s2_v2"
    assert sorted(p.name for p in ckpt_dir.glob("*.pth")) == ["D_1.pth", "D_2.pth", "G_1.pth", "G_2.pth"]
    g = torch.load(ckpt_dir / "G_2.pth", map_location="cpu", weights_only=False)
    assert g["iteration"] == 2 and "optimizer" in g and "model" in g  # official utils.save_checkpoint keys


@pytest.mark.slow
def test_ddp_two_gloo_processes(experiment: Experiment, pretrained, tmp_path: Path) -> None:
    weights = tmp_path / "w"
    r = run_torchrun(
        MODULE, "--exp", experiment.root, "--pretrained-g", pretrained["sovits"], "--weights-dir", weights,
        "--device", "cpu", "--epochs", "1", "--batch-size", "3", "--min-epoch-items", "0",
        "--log-interval", "1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = load_sovits(weights / "exp_e1_s1.pth")  # 6 clips over 2 ranks with batch 3: one step
    assert ckpt.info == "1epoch_1iteration" and not any("enc_q" in k for k in ckpt.weight)
    events = read_progress(experiment.root)
    assert [e["step"] for e in events if e["event"] == "metric"] == [1]
    assert [e["event"] for e in events].count("end") == 1  # rank 0 reports alone
