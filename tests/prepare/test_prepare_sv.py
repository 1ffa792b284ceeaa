"""Stage ``prepare.sv`` (v2Pro/v2ProPlus) as a subprocess: 5-wav32k clips -> 7-sv_cn embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from GPT_SoVITS.audio import load_audio, resample
from GPT_SoVITS.data.experiment import Experiment, item_name
from GPT_SoVITS.features.sv import SpeakerEncoder
from GPT_SoVITS.listfile import write_list
from GPT_SoVITS.prepare.sv import sv_path
from tests.train.synth import run_module


def test_sv_stage_embeds_resumes_and_skips(speech, next_golden_dir: Path, tmp_path: Path) -> None:
    list_path, entries = speech
    meta = json.loads((next_golden_dir / "sv_embedding.json").read_text())
    model = next_golden_dir / "models" / meta["model_file"]
    small = entries[:3]
    lp = list_path.parent / "sv_small.list"
    write_list(lp, small)
    exp = Experiment(tmp_path / "exp")
    exp.wav_dir.mkdir(parents=True)
    for entry in small[:2]:  # as prepare.hubert writes them: 16-bit, 32 kHz; the third was "dropped"
        wav = load_audio(list_path.parent / entry.path, 32000)
        sf.write(exp.wav_path(item_name(entry.path)), (wav * 0.9 * 32768).astype(np.int16), 32000)
    args = ["--exp", exp.root, "--list", lp, "--device", "cpu", "--sv", model]
    r = run_module("GPT_SoVITS.prepare.sv", *args)
    assert r.returncode == 0, r.stderr
    assert "2 clip(s) embedded" in r.stdout and "1 without a 32 kHz clip" in r.stdout
    names = [item_name(e.path) for e in small]
    assert not sv_path(exp, names[2]).exists()
    emb = torch.load(sv_path(exp, names[0]))
    assert emb.shape == (1, 2560) and emb.dtype == torch.float32
    wav, _ = sf.read(exp.wav_path(names[0]), dtype="float32")
    direct = SpeakerEncoder(model).embed(resample(wav, 32000, 16000))
    torch.testing.assert_close(emb, direct, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(emb, torch.load(sv_path(exp, names[1])))
    # resumable: nothing is recomputed
    stamp = sv_path(exp, names[0]).stat().st_mtime_ns
    r = run_module("GPT_SoVITS.prepare.sv", *args)
    assert r.returncode == 0 and "0 clip(s) embedded, 2 already done" in r.stdout
    assert sv_path(exp, names[0]).stat().st_mtime_ns == stamp
    # a missing SV model: exit 2, one line naming the file and where to get it
    sv_path(exp, names[0]).unlink()
    missing = tmp_path / "nowhere" / "pretrained_eres2netv2w24s4ep4.ckpt"
    r = run_module(
        "GPT_SoVITS.prepare.sv", "--exp", exp.root, "--list", lp, "--device", "cpu", "--sv", missing
    )
    assert r.returncode == 2 and str(missing) in r.stderr and "download" in r.stderr
