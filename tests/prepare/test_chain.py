"""The whole chain on CPU as subprocesses: espeak-ng speech -> .list -> text / hubert / semantic ->
SoVITS 2 epochs -> GPT 2 epochs -> the exported weights synthesise a sentence through the inference CLI."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import soundfile as sf

from GPT_SoVITS.checkpoints import load_gpt, load_sovits
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.progress import read_progress
from tests.train.synth import run_module


def _ok(r) -> None:
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.slow
def test_list_to_weights_to_speech(speech, tiny_models, tmp_path: Path) -> None:
    list_path, entries = speech
    assert len(entries) >= 20 and {e.lang for e in entries} == {"ZH", "EN"}
    exp = Experiment(tmp_path / "logs" / "voice")
    common = ["--exp", exp.root, "--device", "cpu"]
    _ok(run_module("GPT_SoVITS.prepare.text", *common, "--list", list_path, "--bert", tiny_models["bert"]))
    _ok(
        run_module(
            "GPT_SoVITS.prepare.hubert", *common, "--list", list_path, "--hubert", tiny_models["hubert"]
        )
    )
    r = run_module("GPT_SoVITS.prepare.semantic", *common, "--list", list_path,
                   "--pretrained-sovits", tiny_models["sovits"])  # fmt: skip
    _ok(r)
    assert f"usable {len(entries)}" in r.stdout  # the validation report of the last stage
    sovits_w, gpt_w = tmp_path / "SoVITS_weights", tmp_path / "GPT_weights"
    _ok(run_module(
        "GPT_SoVITS.train.sovits", *common, "--list", list_path, "--pretrained-g", tiny_models["sovits"],
        "--epochs", "2", "--batch-size", str(len(entries)), "--min-epoch-items", "0",
        "--weights-dir", sovits_w, "--log-interval", "1",
    ))  # fmt: skip
    _ok(run_module(
        "GPT_SoVITS.train.gpt", *common, "--list", list_path, "--epochs", "2", "--batch-size", "4",
        "--min-epoch-items", "0", "--accumulate", "1", "--weights-dir", gpt_w, "--log-interval", "1",
        "--config", Path(__file__).parent / "tiny_s1.yaml",
    ))  # fmt: skip
    metrics = [e for e in read_progress(exp.root) if e["event"] == "metric"]
    assert metrics and all(math.isfinite(v) for e in metrics for k, v in e.items() if k.startswith("loss"))
    sovits_file, gpt_file = sovits_w / "voice_e2_s2.pth", gpt_w / "voice-e2.ckpt"
    assert load_sovits(sovits_file).info == "2epoch_2iteration" and load_gpt(gpt_file).info == "GPT-e2"
    out = tmp_path / "out.wav"
    _ok(run_module(
        "GPT_SoVITS.inference", "--gpt", gpt_file, "--sovits", sovits_file, "--bert", tiny_models["bert"],
        "--hubert", tiny_models["hubert"], "--ref-audio", list_path.parent / entries[0].path,
        "--prompt-text", entries[0].text, "--prompt-lang", "zh", "--text", "我们一起去公园。",
        "--text-lang", "zh", "--out", out, "--device", "cpu", "--seed", "1",
    ))  # fmt: skip
    wav, sr = sf.read(out)
    assert sr == 32000 and len(wav) > sr // 4
