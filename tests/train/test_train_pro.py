"""v2Pro/v2ProPlus training on espeak-ng speech, all stages as subprocesses: prepare.text / hubert /
semantic / sv -> train.sovits --version v2Pro 1 epoch -> train.gpt 1 epoch -> the exported file is detected as
v2Pro from its header alone and synthesises through the engine with the same SV model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from GPT_SoVITS.checkpoints import load_sovits, sniff_sovits_version
from GPT_SoVITS.data.experiment import Experiment
from GPT_SoVITS.features.sv import SpeakerEncoder
from GPT_SoVITS.listfile import ListEntry, write_list
from GPT_SoVITS.progress import read_progress
from tests.prepare.conftest import ZH_SENTENCES, espeak_clip, make_tiny_bert
from tests.tiny_models import make_tiny_hubert
from tests.train.synth import run_module, save_tiny_sovits

TINY_S1 = Path(__file__).parents[1] / "prepare" / "tiny_s1.yaml"


def _ok(r) -> None:
    assert r.returncode == 0, r.stderr[-3000:]


def speech_list(folder: Path, n: int = 3) -> tuple[Path, list[ListEntry]]:
    """``n`` Chinese espeak-ng clips and their .list."""
    (folder / "wavs").mkdir(parents=True)
    entries = []
    for i, text in enumerate(ZH_SENTENCES[:n]):
        espeak_clip(text, "cmn-latn-pinyin", folder / "wavs" / f"zh_{i}.wav", folder)
        entries.append(ListEntry(f"wavs/zh_{i}.wav", "spk", "ZH", text))
    write_list(folder / "voice.list", entries)
    return folder / "voice.list", entries


@pytest.mark.slow
@pytest.mark.parametrize("version", ["v2Pro", "v2ProPlus"])
def test_pro_list_to_weights_to_speech(version: str, next_golden_dir: Path, tmp_path: Path) -> None:
    from GPT_SoVITS.inference.engine import TTSEngine
    from GPT_SoVITS.inference.guard import GuardConfig
    from GPT_SoVITS.inference.request import TTSRequest

    list_path, entries = speech_list(tmp_path / "speech")
    meta = json.loads((next_golden_dir / "sv_embedding.json").read_text())
    sv_model = next_golden_dir / "models" / meta["model_file"]  # the reduced SV model (2560-d)
    width = SpeakerEncoder(sv_model).embedding_dim
    models = tmp_path / "models"
    bert = make_tiny_bert(models / "bert", ZH_SENTENCES[: len(entries)])
    hubert = make_tiny_hubert(models / "hubert")
    base = save_tiny_sovits(models / f"s2G{version}.pth", version=version, sv_input_dim=width)
    exp = Experiment(tmp_path / "logs" / "voice")
    common = ["--exp", exp.root, "--device", "cpu"]
    _ok(run_module("GPT_SoVITS.prepare.text", *common, "--list", list_path, "--bert", bert))
    _ok(run_module("GPT_SoVITS.prepare.hubert", *common, "--list", list_path, "--hubert", hubert))
    _ok(run_module("GPT_SoVITS.prepare.semantic", *common, "--list", list_path, "--pretrained-sovits", base))
    _ok(run_module("GPT_SoVITS.prepare.sv", *common, "--list", list_path, "--sv", sv_model))
    sovits_w, gpt_w = tmp_path / f"SoVITS_weights_{version}", tmp_path / f"GPT_weights_{version}"
    _ok(run_module(
        "GPT_SoVITS.train.sovits", *common, "--version", version, "--list", list_path, "--pretrained-g", base,
        "--epochs", "1", "--batch-size", str(len(entries)), "--min-epoch-items", "0",
        "--weights-dir", sovits_w, "--log-interval", "1",
    ))  # fmt: skip
    _ok(run_module(
        "GPT_SoVITS.train.gpt", *common, "--version", version, "--list", list_path, "--epochs", "1",
        "--batch-size", "3", "--min-epoch-items", "0", "--accumulate", "1", "--weights-dir", gpt_w,
        "--log-interval", "1", "--config", TINY_S1,
    ))  # fmt: skip
    metrics = [e for e in read_progress(exp.root) if e["event"] == "metric"]
    assert metrics and all(math.isfinite(v) for e in metrics for k, v in e.items() if k.startswith("loss"))
    assert (exp.root / "samples" / "sovits_e1_s1.wav").is_file()  # the sample used the clip's SV embedding

    sovits_file = sovits_w / "voice_e1_s1.pth"
    header = {"v2Pro": b"05", "v2ProPlus": b"06"}[version]
    assert sovits_file.read_bytes()[:2] == header
    assert sniff_sovits_version(sovits_file).as_official() == ["v2", version, False]
    ckpt = load_sovits(sovits_file)
    assert ckpt.version.value == version and ckpt.info == "1epoch_1iteration"
    assert ckpt.weight["sv_emb.weight"].shape[1] == width and not any("enc_q" in k for k in ckpt.weight)
    start = load_sovits(base).weight
    assert not torch.equal(start["sv_emb.weight"], ckpt.weight["sv_emb.weight"])  # the SV branch trained

    engine = TTSEngine(
        gpt_w / "voice-e1.ckpt", sovits_file, bert, hubert, device="cpu", sv_path=sv_model,
        guard=GuardConfig(max_tokens_per_phone=2.0, slack_tokens=4),
    )  # fmt: skip
    assert engine.describe()["version"] == version
    req = TTSRequest(
        text="我们一起去公园。", text_lang="zh", ref_audio_path=str(list_path.parent / entries[0].path),
        prompt_text=entries[0].text, prompt_lang="zh", seed=1, max_retries=0,
    )  # fmt: skip
    result = engine.synthesize(req)
    assert result.sample_rate == 32000 and result.duration > 0.05
    assert np.all(np.isfinite(result.audio)) and np.abs(result.audio).max() > 0


def test_pro_training_without_or_with_wrong_sv_embeddings_names_the_files(
    experiment: Experiment, tmp_path: Path
) -> None:
    base = save_tiny_sovits(tmp_path / "s2Gv2Pro.pth", version="v2Pro", sv_input_dim=48)
    args = ["--exp", experiment.root, "--version", "v2Pro", "--pretrained-g", base, "--device", "cpu",
            "--weights-dir", tmp_path / "w", "--epochs", "1"]  # fmt: skip
    r = run_module("GPT_SoVITS.train.sovits", *args)
    assert r.returncode == 2 and "7-sv_cn" in r.stderr and "prepare.sv" in r.stderr, r.stderr
    sv_dir = experiment.root / "7-sv_cn"
    sv_dir.mkdir()
    for name in ("clip0.wav", "clip1.wav"):  # made by an SV model of another width
        torch.save(torch.rand(1, 32), sv_dir / f"{name}.pt")
    r = run_module("GPT_SoVITS.train.sovits", *args)
    line = r.stderr.strip().splitlines()[-1]  # warnings name the clips left out, then the one-line error
    assert r.returncode == 2 and line.startswith("error:"), r.stderr
    assert "32-d" in line and "48-d" in line and str(base) in line and str(sv_dir) in line
    assert not (tmp_path / "w").exists()
