"""The reference library: roles, imports, trash, and the clip tools on espeak-ng speech."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.refselect import clips as audio
from GPT_SoVITS.refselect import edit, library
from GPT_SoVITS.refselect.db import MIGRATIONS, Library
from tests.refselect.conftest import SENTENCES


def test_schema_is_migrated_once_and_uses_wal(lib: Library) -> None:
    with lib.connect() as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Library(lib.root)  # opening again migrates nothing and keeps the data
    assert lib.integrity() == "ok"


def test_import_list_copies_audio_and_measures_it(lib: Library, speech_dir: Path) -> None:
    library.create_role(lib, "alice", "narrator")
    report = library.import_list(lib, "alice", speech_dir / "voice.list")
    assert report.skipped == [] and len(report.added) == 3
    rows = library.clips(lib, "alice")
    assert [r["transcript"] for r in rows] == [s[2] for s in SENTENCES]
    for row in rows:
        copied = lib.abspath(row["path"])
        assert copied.parent == lib.root / "alice" and copied.is_file()
        wav, sr = sf.read(copied)
        assert row["duration"] == pytest.approx(len(wav) / sr, abs=1e-3)
        assert -40 < row["loudness"] < 0 and 0 < row["peak"] <= 1 and row["language"] == "zh"
    assert library.roles(lib)[0]["clips"] == 3
    with pytest.raises(UserError, match="exists already"):
        library.create_role(lib, "alice")


def test_bad_clips_are_named_and_the_rest_imported(lib: Library, speech_dir: Path, tmp_path: Path) -> None:
    library.create_role(lib, "bob")
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not audio at all")
    sf.write(tmp_path / "short.wav", np.full(8000, 0.3, np.float32), 16000)  # 0.5 s
    lines = [
        f"{speech_dir / 'a.wav'}|s|ZH|你好",
        f"{tmp_path / 'broken.wav'}|s|ZH|坏的",
        f"{tmp_path / 'short.wav'}|s|ZH|短",
        f"{tmp_path / 'missing.wav'}|s|ZH|没有",
    ]
    (tmp_path / "mixed.list").write_text("\n".join(lines), encoding="utf-8")
    report = library.import_list(lib, "bob", tmp_path / "mixed.list")
    assert len(report.added) == 1
    text = "\n".join(report.skipped)
    assert "broken.wav: cannot decode" in text and "short.wav: only 0.50 s" in text
    assert "mixed.list:4: audio file not found" in text
    with pytest.raises(audio.ClipError, match=r"short\.wav"):
        library.add_file(lib, "bob", tmp_path / "short.wav")


def test_send_lines_creates_the_role(lib: Library, speech_dir: Path) -> None:
    lines = (speech_dir / "voice.list").read_text(encoding="utf-8").splitlines()[:2]
    report = library.send_lines(lib, "carol", lines, speech_dir / "voice.list")
    assert len(report.added) == 2 and library.role(lib, "carol")["name"] == "carol"


def test_trash_restore_and_confirmed_purge(lib: Library, speech_dir: Path) -> None:
    library.create_role(lib, "dan")
    clip_id = library.add_file(lib, "dan", speech_dir / "a.wav", "今天", "zh", tags="calm")
    path = lib.abspath(library.clip(lib, clip_id)["path"])
    trash_id = library.remove_clip(lib, clip_id)
    assert library.clips(lib, "dan") == [] and path.is_file()  # the file stays
    assert library.restore_clip(lib, trash_id) == clip_id
    assert library.clip(lib, clip_id)["tags"] == "calm"
    trash_id = library.remove_clip(lib, clip_id)
    with pytest.raises(UserError, match="confirmation"):
        library.purge_trash(lib, trash_id)
    assert path.is_file()
    library.purge_trash(lib, trash_id, confirm=True)
    assert not path.exists() and library.trash(lib) == []


def test_delete_role_trashes_clips_and_refuses_while_a_task_runs(lib: Library, speech_dir: Path) -> None:
    role_id = library.create_role(lib, "eve")
    library.add_file(lib, "eve", speech_dir / "a.wav")
    with lib.transaction() as con:  # a task whose renderer is this (live) process
        con.execute(
            "INSERT INTO tasks (name, role_id, spec, state, pid, created) "
            "VALUES ('t', ?, '{}', 'running', ?, 0)",
            (role_id, os.getpid()),
        )
    with pytest.raises(UserError, match="running comparison task"):
        library.delete_role(lib, "eve")
    with lib.transaction() as con:
        con.execute("UPDATE tasks SET state = 'done'")
    assert library.delete_role(lib, "eve") == 1
    assert len(library.trash(lib)) == 1 and library.roles(lib) == []


def test_split_at_pauses_splits_the_transcript_proportionally(lib: Library, speech_dir: Path) -> None:
    library.create_role(lib, "f")
    clip_id = library.add_file(lib, "f", speech_dir / "a.wav", SENTENCES[0][2], "zh")
    wav, sr = audio.read_audio(speech_dir / "a.wav")
    report = edit.split_clip(lib, clip_id, times=None, min_pause_s=0.15)
    assert report.text_method == "proportional-chars" and len(report.added) == len(report.times) + 1 >= 2
    pieces = [library.clip(lib, i) for i in report.added]
    assert sum(p["duration"] for p in pieces) == pytest.approx(len(wav) / sr, abs=0.01)
    assert "".join(p["transcript"] for p in pieces) == SENTENCES[0][2]
    # each cut is inside a pause: the audio there is quiet
    for t in report.times:
        around = wav[int((t - 0.03) * sr) : int((t + 0.03) * sr)]
        assert np.sqrt(np.mean(around**2)) < 0.02 * np.abs(wav).max()
    assert library.clip(lib, clip_id)["id"] == clip_id  # the source stays


def test_split_at_times_checks_the_times(lib: Library, speech_dir: Path) -> None:
    library.create_role(lib, "g")
    clip_id = library.add_file(lib, "g", speech_dir / "a.wav", "abcdef", "en")
    with pytest.raises(audio.ClipError, match="outside the clip"):
        edit.split_clip(lib, clip_id, times=[99.0])
    with pytest.raises(audio.ClipError, match="shorter than"):
        edit.split_clip(lib, clip_id, times=[0.2])
    report = edit.split_clip(lib, clip_id, times=[1.5])
    assert library.clip(lib, report.added[0])["duration"] == pytest.approx(1.5, abs=1e-3)


def test_trim_removes_edge_silence(lib: Library, speech_dir: Path, tmp_path: Path) -> None:
    wav, sr = audio.read_audio(speech_dir / "b.wav")
    padded = np.concatenate([np.zeros(sr), wav, np.zeros(2 * sr)]).astype(np.float32)
    sf.write(tmp_path / "padded.wav", padded, sr)
    library.create_role(lib, "h")
    clip_id = library.add_file(lib, "h", tmp_path / "padded.wav", "x", "zh")
    report = edit.trim_clip(lib, clip_id)
    new = library.clip(lib, report.added[0])
    assert new["duration"] < len(wav) / sr + 0.2 and new["transcript"] == "x"
    assert [t["clip_id"] for t in library.trash(lib)] == [clip_id]


def test_best_windows_avoid_clipping_and_long_pauses(lib: Library, speech_dir: Path, tmp_path: Path) -> None:
    parts = [audio.read_audio(speech_dir / f"{s}.wav")[0] for s in "abc"]
    sr = audio.read_audio(speech_dir / "a.wav")[1]
    clipped = np.clip(parts[0] * 20, -1, 1)  # a distorted take
    gap = np.zeros(int(2.5 * sr), np.float32)  # a long pause
    take = np.concatenate([clipped, gap, parts[1], parts[2], gap, parts[0]]).astype(np.float32)
    sf.write(tmp_path / "take.wav", take, sr)
    found = audio.best_windows(take, sr, count=2)
    assert found and all(3.0 - 0.02 <= w.duration <= 10.0 + 0.02 for w in found)
    clip_end = len(clipped) / sr
    best = max(found, key=lambda w: w.score)
    assert best.start >= clip_end - 0.05 and best.clipped == 0 and best.longest_pause < 1.0
    library.create_role(lib, "i")
    clip_id = library.add_file(lib, "i", tmp_path / "take.wav")
    report = edit.window_clips(lib, clip_id, count=2)
    assert len(report.added) == len(found)


def test_a_second_writer_waits_for_the_first(lib: Library) -> None:
    library.create_role(lib, "j")
    with lib.transaction() as con:  # a second writer waits for the first (busy timeout), never fails
        con.execute("UPDATE roles SET category = 'x'")
        other = sqlite3.connect(lib.db_path, timeout=0.1)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    library.create_role(lib, "k")
    assert {r["name"] for r in library.roles(lib)} == {"j", "k"}
