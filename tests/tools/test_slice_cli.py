"""tools.slice end to end: a 60 s espeak-ng recording, the length cap, dry run, parallel files."""

from __future__ import annotations

import hashlib
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from tests.tools.conftest import SR, progress_events, run_cli, tone

NAME_RE = re.compile(r"^(?P<name>.+)_(?P<start>\d{10})_(?P<end>\d{10})\.wav$")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_slices_a_minute_of_speech(long_speech, tmp_path):
    src, pauses = long_speech
    before = _digest(src)
    out = tmp_path / "sliced"
    proc = run_cli("tools.slice", "--input", src.parent, "--output", out)
    assert proc.returncode == 0, proc.stderr
    assert _digest(src) == before  # the input is never touched
    clips = sorted(out.glob("*.wav"))
    spans = []
    for clip in clips:
        m = NAME_RE.match(clip.name)
        assert m and m["name"] == src.name, clip.name  # official naming: <file name>_<start>_<end>.wav
        info = sf.info(clip)
        assert info.samplerate == SR and info.subtype == "PCM_16" and info.channels == 1
        spans.append((int(m["start"]), int(m["end"]), info.frames))
    lengths = [frames / SR for _, _, frames in spans]
    assert 4 <= len(clips) <= 20, lengths
    assert max(lengths) <= 15.0 + 1e-6, lengths  # --max-length default
    assert min(lengths[:-1]) >= 3.0, lengths  # official min_length 4 s, minus the silence trimmed at cuts
    # every speech sample lies inside some clip: only silence is dropped
    wav, _ = sf.read(src, dtype="float32")
    covered = np.zeros(len(wav), bool)
    for start, end, _ in spans:
        covered[start:end] = True
    speech = np.abs(wav) > 0.02
    assert covered[speech].mean() == 1.0
    # no cut lands in the middle of a sentence: cut points are inside the known pauses (+-50 ms)
    cuts = [s / SR for s, _, _ in spans[1:]]
    assert all(any(a - 0.05 <= c <= b + 0.05 for a, b in pauses) for c in cuts), (cuts, pauses)
    events = progress_events(out)
    assert [e["event"] for e in events] == ["start", "item", "end"] and events[-1]["ok"] is True
    assert len(events[1]["chunks"]) == len(clips)


def test_max_length_off_is_official_and_dry_run_writes_nothing(tmp_path):
    wav = tone(32)  # no silence at all: the official slicer keeps it whole
    src = tmp_path / "in" / "steady.flac"
    src.parent.mkdir()
    sf.write(src, wav, SR)
    off = run_cli("tools.slice", "--input", src, "--output", tmp_path / "off", "--max-length", "0")
    assert off.returncode == 0, off.stderr
    assert [sf.info(p).frames for p in (tmp_path / "off").glob("*.wav")] == [len(wav)]
    dry = run_cli("tools.slice", "--input", src, "--output", tmp_path / "dry", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not list((tmp_path / "dry").glob("*.wav"))
    listed = [line for line in dry.stdout.splitlines() if line.startswith("steady.flac_")]
    assert len(listed) >= 3  # 32 s cut to pieces of at most 15 s
    assert all(float(line.split("\t")[1].split()[0]) <= 15.0 for line in listed)


@pytest.mark.slow
def test_processes_give_the_same_clips(long_speech, tmp_path):
    src, _ = long_speech
    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(src, folder / "a.wav")
    sf.write(folder / "b.wav", np.concatenate([tone(5), np.zeros(SR, np.float32), tone(5)]), SR)
    one = run_cli("tools.slice", "--input", folder, "--output", tmp_path / "p1")
    two = run_cli("tools.slice", "--input", folder, "--output", tmp_path / "p2", "--processes", "2")
    assert one.returncode == two.returncode == 0, (one.stderr, two.stderr)
    names1 = sorted(p.name for p in (tmp_path / "p1").glob("*.wav"))
    assert names1 == sorted(p.name for p in (tmp_path / "p2").glob("*.wav"))
    assert any(n.startswith("b.wav_") for n in names1) and any(n.startswith("a.wav_") for n in names1)
    for name in names1:
        assert _digest(tmp_path / "p1" / name) == _digest(tmp_path / "p2" / name)


def test_bad_parameters_exit_2(tmp_path):
    sf.write(tmp_path / "a.wav", tone(1), SR)
    proc = run_cli(
        "tools.slice", "--input", tmp_path / "a.wav", "--output", tmp_path / "o", "--min-length", "100"
    )
    assert proc.returncode == 2 and "min_length" in proc.stderr
