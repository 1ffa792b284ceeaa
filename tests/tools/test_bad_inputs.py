"""The bad-input matrix for every file-processing stage: report and skip unreadable files, process the
rest (formats, rates, names), exit 1; empty folders and missing models exit 2 with one line."""

from __future__ import annotations

import pytest

from tests.tools.conftest import BAD_FILES, folder_digest, progress_events, run_cli

STAGES = {
    "tools.slice": [],
    "tools.channels": ["--mode", "split"],
    "tools.loudnorm": [],
    "tools.denoise": ["--method", "spectral"],
    "tools.vad": [],
}


def _check_matrix_run(proc, folder, out):
    assert proc.returncode == 1, proc.stderr
    for bad in BAD_FILES:
        assert bad in proc.stderr
    events = progress_events(out)
    skips = {e["name"].rsplit("/", 1)[-1]: e["reason"] for e in events if e["event"] == "skip"}
    assert set(skips) == set(BAD_FILES)
    assert "empty" in skips["empty.wav"]
    assert "decod" in skips["notaudio.wav"] or "audio" in skips["notaudio.wav"]
    items = [e for e in events if e["event"] == "item"]
    good = {p.name for p in folder.iterdir() if p.suffix != ".txt"} - set(BAD_FILES)
    assert {e["name"].rsplit("/", 1)[-1] for e in items} == good
    assert events[0]["ignored"] == ["notes.txt"]
    assert events[-1]["event"] == "end" and events[-1]["ok"] is False
    return len(list(out.glob("*.wav"))), len(good)


@pytest.mark.slow
@pytest.mark.parametrize("module", list(STAGES))
def test_matrix(module, input_matrix, tmp_path):
    before = folder_digest(input_matrix)
    out = tmp_path / "out"
    proc = run_cli(module, "--input", input_matrix, "--output", out, *STAGES[module])
    written, good = _check_matrix_run(proc, input_matrix, out)
    assert written >= good
    assert folder_digest(input_matrix) == before  # inputs untouched
    names = " ".join(p.name for p in out.iterdir())
    for stem in ("with space", "中文名", "clip.mp3", "clip.m4a", "rate96k"):
        assert stem in names, (stem, names)


@pytest.mark.slow
def test_matrix_separate(input_matrix, tiny_demucs, tmp_path):
    out = tmp_path / "out"
    io = ["--input", input_matrix, "--output", out]
    proc = run_cli("tools.separate", *io, "--model", tiny_demucs, "--threads", "1")
    written, good = _check_matrix_run(proc, input_matrix, out)
    assert written == 2 * good


@pytest.mark.parametrize("module", [*STAGES, "tools.separate", "tools.asr"])
def test_empty_folder_exits_2(module, tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_cli(module, "--input", tmp_path / "empty", "--output", tmp_path / "out")
    assert proc.returncode == 2
    assert "no audio files" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_missing_input_and_output_equal_to_input(tmp_path):
    proc = run_cli("tools.loudnorm", "--input", tmp_path / "nothing", "--output", tmp_path / "out")
    assert proc.returncode == 2 and "not found" in proc.stderr
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.wav").write_bytes(b"")
    proc = run_cli("tools.loudnorm", "--input", tmp_path / "in", "--output", tmp_path / "in")
    assert proc.returncode == 2 and "differ" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.wav"]


@pytest.mark.parametrize(
    ("module", "args", "expected"),
    [
        ("tools.separate", ["--name", "htdemucs"], "htdemucs.yaml"),
        ("tools.denoise", ["--method", "modelscope"], "configuration.json"),
    ],
)
def test_missing_model_folder_exits_2(module, args, expected, input_matrix, tmp_path):
    missing = tmp_path / "models" / "absent"
    missing.mkdir(parents=True)
    io = ["--input", input_matrix / "pcm24.wav", "--output", tmp_path / "o"]
    proc = run_cli(module, *io, "--model", missing, *args)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and str(missing) in proc.stderr
