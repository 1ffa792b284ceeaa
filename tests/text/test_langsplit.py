"""Language runs for the official modes (script-based, offline)."""

from __future__ import annotations

import pytest

from GPT_SoVITS.text.frontend import preview, split_languages
from GPT_SoVITS.text.langsplit import LanguageError


def test_auto_mode_finds_each_script():
    runs = split_languages("我今天很happy。こんにちは、元気ですか？안녕하세요", "auto")
    assert [lang for lang, _ in runs] == ["zh", "en", "ja", "ko"]
    assert "".join(t for _, t in runs) == "我今天很happy。こんにちは、元気ですか？안녕하세요"


def test_han_next_to_kana_is_japanese():
    assert split_languages("東京タワーに行きましょう", "auto") == [("ja", "東京タワーに行きましょう")]


def test_single_language_mode_keeps_english_runs():
    assert split_languages("我用了ChatGPT写代码", "zh") == [
        ("zh", "我用了"),
        ("en", "ChatGPT"),
        ("zh", "写代码"),
    ]
    # in ja mode Han-only text is Japanese (the user's choice resolves Han characters)
    assert split_languages("日本語", "ja") == [("ja", "日本語")]


def test_all_modes_and_english_mode():
    assert split_languages("Hello  world", "en") == [("en", "Hello world")]
    assert split_languages("全部中文", "all_zh") == [("zh", "全部中文")]
    assert split_languages("今日は", "all_ja") == [("ja", "今日は")]
    assert [lang for lang, _ in split_languages("我哋去飲茶 OK", "auto_yue")] == ["yue", "en"]


def test_numbers_stay_with_their_run():
    assert split_languages("我有3.5个苹果", "auto") == [("zh", "我有3.5个苹果")]


def test_overrides_are_not_split():
    runs = split_languages("银行{行|xing2}不行", "zh")
    assert runs == [("zh", "银行{行|xing2}不行")]


def test_unknown_mode():
    with pytest.raises(LanguageError, match="klingon"):
        split_languages("x", "klingon")


def test_preview_shows_what_the_model_sees():
    rows = preview("你好, world", "zh", "v2")
    assert [r["language"] for r in rows] == ["zh", "en"]
    assert rows[0]["phones"][:4] == ["n", "i2", "h", "ao3"] and rows[0]["backend"] == "pypinyin"
    assert len(rows[1]["ids"]) == len(rows[1]["phones"])
