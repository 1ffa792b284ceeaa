"""The .list format: every line kept with its errors, atomic writes with backup, language aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from GPT_SoVITS.listfile import (
    ListEntry,
    ListFileError,
    clean_text,
    normalize_lang,
    parse_list,
    read_entries,
    write_list,
)


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    for name in ("a.wav", "b c.wav", "音.wav"):
        (tmp_path / name).write_bytes(b"RIFF")
    return tmp_path


def test_reads_valid_lines_with_any_case(clips: Path) -> None:
    lst = clips / "x.list"
    lst.write_text(
        f"{clips}/a.wav|spk|ZH|你好。\nb c.wav|spk|en|Hello there.\n\n音.wav|spk|JP|こんにちは\n", "utf-8"
    )
    entries = read_entries(lst)
    assert [e.language for e in entries] == ["zh", "en", "ja"]
    assert entries[1].name == "b c.wav" and entries[2].text == "こんにちは"


def test_bad_lines_are_kept_and_reported_with_numbers(clips: Path) -> None:
    lst = clips / "x.list"
    lst.write_text(
        "a.wav|spk|ZH|ok\nmissing.wav|spk|EN|gone\nonly|three|fields\na.wav|spk|xx|what\n", "utf-8"
    )
    lines = parse_list(lst)
    assert [ln.line_no for ln in lines] == [1, 2, 3, 4]
    assert lines[0].ok
    assert "audio file not found" in lines[1].errors[0]
    assert lines[2].entry is None and "4 fields" in lines[2].errors[0]
    assert "unknown language code 'xx'" in lines[3].errors[0]
    with pytest.raises(ListFileError) as e:
        read_entries(lst)
    message = str(e.value)
    assert "x.list" in message and "line 2" in message and "line 3" in message and "line 4" in message


def test_empty_list_is_an_error(tmp_path: Path) -> None:
    lst = tmp_path / "e.list"
    lst.write_text("\n\n", "utf-8")
    with pytest.raises(ListFileError, match="empty"):
        read_entries(lst)


def test_write_is_atomic_with_backup(clips: Path) -> None:
    lst = clips / "out.list"
    first = [ListEntry("a.wav", "s", "ZH", "一")]
    write_list(lst, first)
    write_list(lst, [ListEntry("a.wav", "s", "ZH", "二|三\n四")], backup=True)
    assert lst.read_text("utf-8") == "a.wav|s|ZH|二 三 四\n"
    assert (clips / "out.list.bak").read_text("utf-8") == "a.wav|s|ZH|一\n"
    assert not [p for p in clips.iterdir() if p.suffix == ".tmp"]


def test_clean_text_and_languages() -> None:
    assert clean_text(" a|b\r\nc ") == "a b c"
    assert normalize_lang("Yue") == "yue"
    with pytest.raises(ValueError, match="unknown language"):
        normalize_lang("fr")


def test_written_files_have_ordinary_permissions(tmp_path: Path) -> None:
    import os

    out = tmp_path / "p.list"
    write_list(out, [ListEntry("a.wav", "s", "EN", "hi")])
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
