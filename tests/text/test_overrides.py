"""User dictionary files and inline override parsing."""

from __future__ import annotations

import pytest

from GPT_SoVITS.text.frontend import text_to_phones
from GPT_SoVITS.text.overrides import Override, UserDictError, load_user_dict, parse_overrides


def test_user_dictionary_file_round_trip(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("# project words\n重庆|chong2 qing4\nSoVITS\tS OW1 V IH0 T S\n\n", encoding="utf-8")
    entries = load_user_dict(path)
    assert entries == {"重庆": "chong2 qing4", "SoVITS": "S OW1 V IH0 T S"}
    assert text_to_phones("去重庆", "zh", user_dict=entries)[0][2:] == ["ch", "ong2", "q", "ing4"]


def test_bad_user_dictionary_line_names_file_and_line(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("好|hao3\nbroken line\n", encoding="utf-8")
    with pytest.raises(UserDictError, match=r"dict\.txt:2"):
        load_user_dict(path)


def test_parse_overrides_keeps_order():
    assert parse_overrides("a{行|hang2}b{read|R EH1 D}") == [
        "a",
        Override("行", "hang2"),
        "b",
        Override("read", "R EH1 D"),
    ]


def test_japanese_and_korean_overrides_read_the_given_reading():
    phones, _, norm = text_to_phones("{日本|にっぽん}", "ja", "v2")
    assert norm == "日本"
    assert [p for p in phones if p not in ("[", "]", "UNK")] == ["n", "i", "cl", "p", "o", "N"]
    phones, _, norm = text_to_phones("{AI|에이아이}", "ko", "v2")
    assert norm == "AI" and phones[:3] == ["ㅇ", "ㅔ", "ㅇ"]
