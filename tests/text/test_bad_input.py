"""Bad input never crashes or hangs: each case has a documented result and a time limit."""

from __future__ import annotations

import time

import pytest

from GPT_SoVITS.text.frontend import FrontendError, text_to_phones
from GPT_SoVITS.text.langsplit import LanguageError
from GPT_SoVITS.text.phones_bert import phones_and_bert

LANGS = ("zh", "en", "ja", "ko", "yue")


def _timed(fn, limit_s: float):
    """Run ``fn``; a runaway loop burns CPU time past ``limit_s``, a blocked call wall time past 10x it.
    CPU time, unlike wall time, does not grow when other processes load the machine (CI runs in parallel)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = fn()
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    assert cpu < limit_s, f"took {cpu:.1f} s of CPU (limit {limit_s} s)"
    assert wall < 10 * limit_s, f"took {wall:.1f} s (limit {10 * limit_s} s)"
    return result


@pytest.mark.parametrize("lang", LANGS)
def test_empty_text_gives_no_phones(lang):
    phones, _, norm = _timed(lambda: text_to_phones("", lang, "v2"), 10)
    assert phones == [] and norm == ""


def test_empty_text_has_nothing_to_speak():
    with pytest.raises(FrontendError, match="nothing to speak"):
        _timed(lambda: phones_and_bert("", "auto", "v2"), 10)


@pytest.mark.parametrize("lang", LANGS)
def test_punctuation_only_gives_pause_marks(lang):
    phones, _, _ = _timed(lambda: text_to_phones("。。。!?", lang, "v2"), 10)
    assert phones and set(phones) <= {",", ".", "!", "?", "…"}


@pytest.mark.parametrize("lang", LANGS)
def test_emoji_and_control_characters_are_dropped(lang):
    phones, _, norm = _timed(lambda: text_to_phones("😀\x00\x07\u200b🎉", lang, "v2"), 10)
    assert phones == [] and norm == ""
    with pytest.raises(FrontendError, match="nothing to speak"):
        phones_and_bert("😀\x00\x07", "auto", "v2")


def test_emoji_inside_text_leaves_the_words():
    assert text_to_phones("你好😀", "zh")[0] == ["n", "i2", "h", "ao3"]
    assert text_to_phones("猫😀です", "ja")[0] == text_to_phones("猫です", "ja")[0]


@pytest.mark.parametrize(
    ("lang", "sentence", "limit_s"),
    [
        ("zh", "今天天气很好，我们一起去公园散步吧。", 60),
        ("en", "The quick brown fox jumps over the lazy dog. ", 30),
        ("ja", "今日はいい天気ですね。", 60),
        ("ko", "오늘 날씨가 정말 좋네요. ", 30),
        ("yue", "今日天氣好好，我哋去飲茶啦！", 30),
    ],
)
def test_twenty_thousand_characters(lang, sentence, limit_s):
    text = (sentence * (20_000 // len(sentence) + 1))[:20_000]
    phones, word2ph, _ = _timed(lambda: text_to_phones(text, lang, "v2"), limit_s)
    assert len(phones) > 5_000
    if word2ph is not None:
        assert sum(word2ph) == len(phones)


def test_text_over_the_limit_is_refused_quickly():
    with pytest.raises(FrontendError, match="longer than"):
        _timed(lambda: text_to_phones("字" * 100_001, "zh"), 5)


@pytest.mark.parametrize("bad", ["xx", "", "zh-cn", "auto"])
def test_unknown_language_code(bad):
    with pytest.raises(LanguageError, match="unknown language"):
        _timed(lambda: text_to_phones("你好", bad, "v2"), 5)


def test_official_language_aliases_are_accepted():
    expected = text_to_phones("你好", "zh")
    for alias in ("ZH", "all_zh", " zh "):
        assert text_to_phones("你好", alias) == expected
    assert text_to_phones("猫", "JP")[0] == text_to_phones("猫", "ja")[0]


def test_unknown_mode_in_phones_and_bert():
    with pytest.raises(LanguageError, match="mode"):
        phones_and_bert("你好", "chinese", "v2")


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("{行|hang2", "行"),  # unclosed: the word is read, the reading is not
        ("银{|hang2}行", "银行"),  # empty word
        ("a}b{c你好", "你好"),  # stray braces (and Latin, which the Chinese frontend drops)
        ("{行}", "行"),  # no reading
        ("{{行|hang2}}", "行"),  # nested: the inner override applies
    ],
)
def test_malformed_override_braces(text, norm):
    phones, _, ours = _timed(lambda: text_to_phones(text, "zh", "v2"), 10)
    assert ours == norm
    assert "EE" not in phones  # the digit of a broken reading is never read (二 = EE er4)


def test_invalid_pinyin_override_is_a_clear_error():
    from GPT_SoVITS.text.zh import PinyinError

    with pytest.raises(PinyinError, match="hangx"):
        text_to_phones("{行|hangx}", "zh")
    with pytest.raises(FrontendError, match="one syllable per"):
        text_to_phones("{银行|yin2}", "zh")
