"""The label editor's operations on real .list files and real wav files made in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from subfix import editor
from subfix.editor import EditorError

SR = 32000


def tone(path: Path, seconds: float, freq: float, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    wav = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(path, wav, sr, subtype="PCM_16")
    return wav


@pytest.fixture
def listfile(tmp_path: Path) -> Path:
    """Four clips of different lengths/pitches, a bad language, a missing file, a line that does not parse."""
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    lines = []
    for i, (sec, lang, text) in enumerate(
        [(1.0, "en", "hello world"), (0.5, "en", "second line"), (0.75, "zh", "你好"), (1.25, "zh", "世界")]
    ):
        p = wavs / f"clip{i}.wav"
        tone(p, sec, 220 * (i + 1))
        lines.append(f"{p}|spk|{lang}|{text}")
    lines.insert(2, f"{wavs / 'clip0.wav'}|spk|xx|bad language")
    lines.append(f"{wavs / 'gone.wav'}|spk|en|missing audio")
    lines.append("a broken line | with two fields")
    path = tmp_path / "data.list"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_keeps_invalid_lines(listfile: Path) -> None:
    doc = editor.load(listfile)
    assert len(doc) == 7
    assert doc.rows[2].errors and "bad language" in doc.rows[2].text
    assert any("not found" in e for e in doc.rows[5].errors)  # missing audio is reported
    assert doc.rows[6].entry is None and doc.rows[6].text == "a broken line | with two fields"
    assert [r.valid for r in doc.rows] == [True, True, False, True, True, False, False]


def test_paging_and_search(listfile: Path) -> None:
    doc = editor.load(listfile)
    assert editor.page_count(doc, 4) == 2
    assert [i for i, _ in editor.page(doc, 1, 4)] == [4, 5, 6]
    assert [i for i, _ in editor.page(doc, 9, 4)] == [4, 5, 6]  # clamped to the last page
    assert editor.page_of(5, 4) == 1
    assert editor.search(doc, "WORLD") == [0]
    assert editor.search(doc, "clip0") == [0, 2]
    assert editor.search(doc, "  ") == []


def test_edit_undo_redo(listfile: Path) -> None:
    doc = editor.load(listfile)
    assert editor.edit_texts(doc, {0: "hello world"}) is doc  # unchanged text: no undo step
    d1 = editor.edit_texts(doc, {0: "hello|there\nfriend"})
    assert d1.rows[0].entry.text == "hello there friend"
    assert d1.dirty and d1.undo_stack and not d1.redo_stack
    assert doc.rows[0].entry.text == "hello world"  # the old document is untouched
    d2 = editor.undo(d1)
    assert d2.rows[0].entry.text == "hello world" and d2.redo_stack
    d3 = editor.redo(d2)
    assert d3.rows == d1.rows
    with pytest.raises(EditorError):
        editor.redo(d3)
    with pytest.raises(EditorError):
        editor.undo(doc)
    assert editor.edit_texts(doc, {6: "x"}) is doc  # a line that cannot be parsed is read-only
    emptied = editor.edit_texts(doc, {0: ""})
    assert emptied.rows[0].errors == ("empty text",)
    assert editor.edit_texts(emptied, {0: "back"}).rows[0].errors == ()
    with pytest.raises(EditorError, match="does not exist"):
        editor.edit_texts(doc, {99: "x"})


def test_edit_texts_is_one_undo_step(listfile: Path) -> None:
    doc = editor.load(listfile)
    d = editor.edit_texts(doc, {0: "a", 1: "b", 3: "你好"})
    assert [r.text for r in d.rows[:2]] == ["a", "b"]
    assert len(d.undo_stack) == 1
    assert editor.undo(d).rows == doc.rows
    assert editor.edit_texts(doc, {0: "hello world"}) is doc


def test_merge_writes_new_wav_and_keeps_originals(listfile: Path) -> None:
    doc = editor.load(listfile)
    wav0, _ = sf.read(doc.rows[0].entry.path, dtype="float32")
    wav1, _ = sf.read(doc.rows[1].entry.path, dtype="float32")
    d = editor.merge(doc, [1, 0], silence_s=0.25)
    assert len(d) == 6
    merged = d.rows[0].entry
    assert merged.text == "hello world second line"
    out, sr = sf.read(merged.path, dtype="float32")
    assert sr == SR
    assert len(out) == len(wav0) + round(0.25 * SR) + len(wav1)
    gap = out[len(wav0) : len(wav0) + round(0.25 * SR)]
    assert np.abs(gap).max() == 0
    assert np.allclose(out[-len(wav1) :], wav1, atol=1e-4)
    assert Path(doc.rows[0].entry.path).is_file() and Path(doc.rows[1].entry.path).is_file()
    # Chinese texts are joined without a space
    dz = editor.merge(doc, [3, 4], silence_s=0)
    assert dz.rows[3].entry.text == "你好世界"
    with pytest.raises(EditorError, match="two rows"):
        editor.merge(doc, [0])
    with pytest.raises(EditorError, match="cannot be parsed"):
        editor.merge(doc, [0, 6])
    with pytest.raises(EditorError, match=r"gone\.wav"):
        editor.merge(doc, [0, 5])


def test_merge_resamples_other_rates(tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    tone(a, 0.5, 300, 32000)
    tone(b, 0.5, 300, 16000)
    lst = tmp_path / "x.list"
    lst.write_text(f"{a}|s|en|one\n{b}|s|en|two\n", encoding="utf-8")
    d = editor.merge(editor.load(lst), [0, 1], silence_s=0.1)
    out, sr = sf.read(d.rows[0].entry.path)
    assert sr == 32000
    assert abs(len(out) - (16000 + 3200 + 16000)) <= 2


def test_split_at_time_and_cursor(listfile: Path) -> None:
    doc = editor.load(listfile)
    wav, _ = sf.read(doc.rows[0].entry.path, dtype="float32")
    assert editor.audio_duration(doc, 0) == pytest.approx(1.0)
    d = editor.split(doc, 0, 0.4, cursor=5)
    assert len(d) == len(doc) + 1
    a, b = d.rows[0].entry, d.rows[1].entry
    assert (a.text, b.text) == ("hello", "world")
    wa, _ = sf.read(a.path, dtype="float32")
    wb, _ = sf.read(b.path, dtype="float32")
    assert len(wa) == round(0.4 * SR) and len(wa) + len(wb) == len(wav)
    assert np.allclose(np.concatenate([wa, wb]), wav, atol=1e-4)
    assert Path(doc.rows[0].entry.path).is_file()
    dup = editor.split(doc, 1, 0.1)
    assert dup.rows[1].entry.text == dup.rows[2].entry.text == "second line"
    assert dup.rows[1].entry.path != d.rows[0].entry.path  # a second split never overwrites the first's files
    with pytest.raises(EditorError, match="outside the clip"):
        editor.split(doc, 0, 1.5)
    with pytest.raises(EditorError, match="cursor"):
        editor.split(doc, 0, 0.5, cursor=50)


def test_delete_keeps_audio(listfile: Path) -> None:
    doc = editor.load(listfile)
    path = Path(doc.rows[1].entry.path)
    d = editor.delete(doc, [1, 5])
    assert len(d) == 5 and path.is_file()
    assert editor.undo(d).rows == doc.rows
    with pytest.raises(EditorError):
        editor.delete(doc, [])


def test_save_atomic_with_backup_keeps_invalid_lines(listfile: Path) -> None:
    original = listfile.read_text(encoding="utf-8")
    doc = editor.load(listfile)
    d = editor.save(editor.delete(editor.edit_texts(doc, {0: "edited text"}), [1]))
    assert not d.dirty
    assert Path(str(listfile) + ".bak").read_text(encoding="utf-8") == original
    lines = listfile.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    assert lines[0].split("|") == [doc.rows[0].entry.path, "spk", "en", "edited text"]
    assert lines[1] == doc.rows[2].raw  # invalid lines are written back verbatim
    assert lines[-2].endswith("missing audio")
    assert lines[-1] == "a broken line | with two fields"
    again = editor.load(listfile)
    assert [r.text for r in again.rows] == [r.text for r in d.rows]


def test_relative_paths_resolve_against_the_list(tmp_path: Path) -> None:
    tone(tmp_path / "r.wav", 0.5, 440)
    tone(tmp_path / "s.wav", 0.5, 550)
    lst = tmp_path / "rel.list"
    lst.write_text("r.wav|s|en|a\ns.wav|s|en|b\n", encoding="utf-8")
    doc = editor.load(lst, audio_root=tmp_path)
    d = editor.merge(doc, [0, 1], 0.0)
    assert Path(d.rows[0].entry.path).is_file()


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EditorError, match="no such"):
        editor.load(tmp_path / "nope.list")
