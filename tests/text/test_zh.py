"""Mandarin frontend on hand-written sentences: expected phonemes written from the standard readings.

Expectations are pinyin with the tone changes a native speaker makes (third-tone sandhi, 不/一 changes,
neutral tones), spelled in the model's symbols: zh/ch/sh/r + i -> ir, z/c/s + i -> i0, zero initials
y/w/AA/EE/OO, ü -> v. They were written by hand, not produced by the code.
"""

from __future__ import annotations

import pytest

from GPT_SoVITS.text.frontend import text_to_phones

CASES = [
    # (text, norm_text, phones)
    ("你好。", "你好.", "n i2 h ao3 ."),
    ("我有3个苹果。", "我有三个苹果.", "w o2 y ou3 s an1 g e5 p ing2 g uo3 ."),
    (
        "今天是2024年3月5日。",
        "今天是二零二四年三月五日.",
        "j in1 t ian1 sh ir4 EE er4 l ing2 EE er4 s i04 n ian2 s an1 y ve4 w u3 r ir4 .",
    ),
    ("温度是-5℃。", "温度是零下五度.", "w en1 d u4 sh ir4 l ing2 x ia4 w u3 d u4 ."),
    ("一共是12元。", "一共是十二元.", "y i2 g ong4 sh ir4 sh ir2 EE er4 y van2 ."),
    (
        "请拨打13912345678。",
        "请拨打幺三九幺二三四五六七八.",
        "q ing3 b o1 d a3 y ao1 s an1 j iu3 y ao1 EE er4 s an1 s i04 w u3 l iu4 q i1 b a1 .",
    ),
    ("不要去，不对。", "不要去,不对.", "b u2 y ao4 q v4 , b u2 d ui4 ."),
    ("看一看，一天。", "看一看,一天.", "k an4 y i5 k an4 , y i4 t ian1 ."),
    ("这个东西很好。", "这个东西很好.", "zh e4 g e5 d ong1 x i5 h en2 h ao3 ."),
    ("小孩儿在玩。", "小孩儿在玩.", "x iao3 h ai2 EE er2 z ai4 w an2 ."),
    ("他说：“你好！”", "他说,你好!", "t a1 sh uo1 , n i2 h ao3 !"),
    ("我喜欢GPT模型。", "我喜欢模型.", "w o2 x i3 h uan5 m o2 x ing2 ."),
    ("1984年", "一九八四年", "y i1 j iu3 b a1 s i04 n ian2"),
    ("他跑了3.8公里。", "他跑了三点八公里.", "t a1 p ao3 l e5 s an1 d ian3 b a1 g ong1 l i3 ."),
    ("第1名", "第一名", "d i4 y i1 m ing2"),
    ("我们走吧！", "我们走吧!", "w o3 m en5 z ou3 b a5 !"),
    ("这是小明的书。", "这是小明的书.", "zh e4 sh ir4 x iao3 m ing2 d e5 sh u1 ."),
    ("湿度是65%。", "湿度是百分之六十五.", "sh ir1 d u4 sh ir4 b ai3 f en1 zh ir1 l iu4 sh ir2 w u3 ."),
]


@pytest.mark.parametrize(("text", "norm", "phones"), CASES, ids=[c[0] for c in CASES])
def test_mandarin_sentence(text, norm, phones):
    ours, word2ph, norm_text = text_to_phones(text, "zh", "v2")
    assert norm_text == norm
    assert ours == phones.split()
    assert len(word2ph) == len(norm_text) and sum(word2ph) == len(ours)


def test_v1_has_no_erhua_tone_change_but_same_symbols():
    # 女儿 is a separate syllable er2 in both versions; 一点儿 takes the erhua tone only in v2
    assert text_to_phones("女儿", "zh", "v1")[0] == ["n", "v3", "EE", "er2"]
    assert text_to_phones("女儿", "zh", "v2")[0] == ["n", "v3", "EE", "er2"]


def test_inline_override_replaces_a_polyphone():
    phones, word2ph, norm = text_to_phones("我们{行|hang2}业", "zh", "v2")
    assert norm == "我们行业"
    assert phones[4:6] == ["h", "ang2"]
    assert word2ph == [2, 2, 2, 2]


def test_user_dictionary_entry_applies_to_every_occurrence():
    phones, _, _ = text_to_phones("重庆和重庆", "zh", "v2", user_dict={"重庆": "chong2 qing4"})
    assert phones == ["ch", "ong2", "q", "ing4", "h", "e2", "ch", "ong2", "q", "ing4"]


def test_special_pause_mark_makes_every_comma_a_long_pause():
    phones, _, norm = text_to_phones("你好^世界，再见。", "zh", "v2")
    assert norm == "你好,世界,再见."
    assert phones.count("SP3") == 2 and "," not in phones
