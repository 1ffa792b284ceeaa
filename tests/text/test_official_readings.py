"""Official frontend readings on inputs the shared goldens do not cover (issue 15, item 4).

Every expectation was derived by hand from the official rules (RVC-Boss/GPT-SoVITS text/zh_normalization and
text/japanese.py), not produced by our code; the comment of each case says how.

Chinese: the official ``TextNormalizer.normalize_sentence`` reads arithmetic (RE_ASMD, in a loop) before
phone numbers (RE_MOBILE_PHONE, RE_TELEPHONE, RE_NATIONAL_UNIFORM_NUMBER), so a hyphen between two digit
groups becomes 减 first; the groups left are then read by the later rules: a 7-8 digit group starting 1-9 is a
telephone number, any other group of three or more digits is RE_DEFAULT_NUM, both digit by digit with 1 read
as 幺 (``verbalize_digit(alt_one=True)``), and shorter groups are cardinals (RE_NUMBER). A leftover ``+``
becomes 加 in ``_post_replace``.

Japanese: the official g2p cuts the text at every non-Japanese character, reads each run with pyopenjtalk
0.4.1 (OpenJTalk 1.11 + NAIST dictionary 1.11) and adds the espnet prosody marks from the full-context
labels: ``[`` after the first mora when the second is high (a2 == 1 and next a2 == 2), ``]`` after the
accent nucleus (a1 == 0 and not the last mora of the phrase), ``#`` at an accent-phrase border after a
vowel, N or cl (a3 == 1 and next a2 == 1); ``#`` is no symbol (UNK) and v1 has no ``[``/``]`` (UNK). The
phrase readings and accents come from OpenJTalk's NJD output (shown as ``reading/accent`` in the comments,
chain = joined to the previous word's accent phrase).
"""

from __future__ import annotations

import os
import stat
import sys

import pytest

from GPT_SoVITS.text import ja
from GPT_SoVITS.text.frontend import FrontendError, ReadingOptions, preview, text_to_phones

PAUSES = ReadingOptions(zh_phone_pauses=True)

# (text, official norm_text, norm_text with zh_phone_pauses)
ZH_PHONES = [
    # ASMD turns 010-12345678 into 010减12345678; RE_TELEPHONE then matches 12345678 alone (8 digits, 1-9
    # first) -> 幺二三四五六七八; 010 is left to RE_DEFAULT_NUM -> 零幺零.
    ("拨打010-12345678。", "拨打零幺零减幺二三四五六七八.", "拨打零幺零,幺二三四五六七八."),
    # A mobile number written in groups is no RE_MOBILE_PHONE match (that needs 11 digits in a row): the
    # ASMD loop makes 138减1234减5678 and every group is RE_DEFAULT_NUM (1 -> 幺).
    ("手机138-1234-5678。", "手机幺三八减幺二三四减五六七八.", "手机幺三八,幺二三四,五六七八."),
    # RE_NATIONAL_UNIFORM_NUMBER (400-xxx-xxxx) comes after ASMD, which already made 400减123减4567.
    ("热线400-123-4567。", "热线四零零减幺二三减四五六七.", "热线四零零,幺二三,四五六七."),
    # 0755减1234567: the 7-digit group is a telephone number, 0755 a default number.
    ("电话0755-1234567。", "电话零七五五减幺二三四五六七.", "电话零七五五,幺二三四五六七."),
    # +86: nothing before the + is an operand, so ASMD starts at 86-138; 86 has two digits and is read as
    # the cardinal 八十六, and _post_replace turns the + into 加.
    (
        "+86-138-1234-5678",
        "加八十六减幺三八减幺二三四减五六七八",
        "八六,幺三八,幺二三四,五六七八",
    ),
    # Not a phone number: two-digit groups are an ASMD subtraction read as cardinals (十二减十五); the option
    # only takes groups of three or more digits, seven or more digits in all, so it reads the same.
    ("12-15岁", "十二减十五岁", "十二减十五岁"),
    # 1 as 幺 only in digit strings read one by one: 110 is RE_DEFAULT_NUM (幺幺零), 11 a cardinal (十一).
    ("报警打110，不是11。", "报警打幺幺零,不是十一.", "报警打幺幺零,不是十一."),
    # A year with 年 is RE_DATE (verbalize_digit without alt_one: 一九八四年); without 年 it is only a
    # digit string, RE_DEFAULT_NUM, and its 1 becomes 幺.
    ("他生于1984年，编号1984。", "他生于一九八四年,编号幺九八四.", "他生于一九八四年,编号幺九八四."),
]


@pytest.mark.parametrize(("text", "official", "paused"), ZH_PHONES, ids=[c[0] for c in ZH_PHONES])
def test_chinese_phone_numbers_official_by_default_pauses_as_option(text, official, paused):
    assert text_to_phones(text, "zh", "v2")[2] == official
    assert text_to_phones(text, "zh", "v1")[2] == official
    assert text_to_phones(text, "zh", "v2", options=PAUSES)[2] == paused


def test_chinese_phone_number_phones_by_hand():
    # 拨打 bo1 da3, 零 ling2, 幺 yao1, 减 jian3, digits as in the golden phone number
    digits = "y ao1 EE er4 s an1 s i04 w u3 l iu4 q i1 b a1"
    official = f"b o1 d a3 l ing2 y ao1 l ing2 j ian3 {digits} ."
    assert text_to_phones("拨打010-12345678。", "zh", "v2")[0] == official.split()
    paused = f"b o1 d a3 l ing2 y ao1 l ing2 , {digits} ."
    assert text_to_phones("拨打010-12345678。", "zh", "v2", options=PAUSES)[0] == paused.split()


def test_reading_option_is_named_in_the_preview_only_when_it_changed_the_reading():
    runs = preview("拨打010-12345678。", "zh", "v2", options=PAUSES)
    assert runs[0]["notes"] and "zh_phone_pauses" in runs[0]["notes"][0]
    assert preview("拨打010-12345678。", "zh", "v2")[0]["notes"] == []
    assert preview("报警打110。", "zh", "v2", options=PAUSES)[0]["notes"] == []


# Japanese, where pyopenjtalk-plus (the installed engine) and the official OpenJTalk 1.11 agree.
# (text, official v2 phones)
JA_AGREE = [
    # チョット 1 (nucleus on cho: ]), the sokuon cl is a mora of its own; 待っ/て マッテ 1 is a new accent
    # phrase: # after the o of チョット (UNK), ] after ma.
    ("ちょっと待って！", "ch o ] cl t o UNK m a ] cl t e !"),
    # コーヒー 3: long vowels are doubled vowels (o o, i i), rise after ko, fall after the second long-vowel
    # mora hi; 一杯 イッパイ 0 rises after i and stays high through cl; ください 3.
    ("コーヒーを一杯ください。", "k o [ o h i ] i o UNK i [ cl p a i UNK k u [ d a s a ] i ."),
    # Commas cut the text: each run is read alone, so no # before a comma. ノート 1, ペン 1, 消しゴム 0.
    ("ノート、ペン、消しゴム。", "n o ] o t o , p e ] N , k e [ sh i g o m u ."),
    # ありがとう 2 (long vowel トー -> t o o), then ございます 4 (ゴザイマ\ス) as a new phrase.
    ("ありがとうございます。", "a [ r i ] g a t o o UNK g o [ z a i m a ] s u ."),
]


def _v1(phones: str) -> list[str]:
    # v1 has no [ and ], the border # is no symbol in either version
    return ["UNK" if p in ("[", "]") else p for p in phones.split()]


@pytest.mark.parametrize(("text", "phones"), JA_AGREE, ids=[c[0] for c in JA_AGREE])
@pytest.mark.parametrize("engine", ["auto", "pyopenjtalk-plus"])
def test_japanese_marks_around_long_vowels_sokuon_and_commas(text, phones, engine):
    options = ReadingOptions(ja_engine=engine)
    assert text_to_phones(text, "ja", "v2", options=options)[0] == phones.split()
    assert text_to_phones(text, "ja", "v1", options=options)[0] == _v1(phones)


# The official text preprocessing before g2p: text_normalize keeps the first of a run of the model's marks
# (replace_consecutive_punctuation over ! ? … , . -), and preprocess_jap lower-cases Latin letters.
# (text, norm_text, v2 phones)
JA_PREPROCESSED = [
    # すごい スゴイ 2: rise after su, fall after go; "!!" -> "!" in norm_text already.
    ("すごい!!", "すごい!", "s u [ g o ] i !"),
    # えっ エッ 1 (fall after e, then the sokuon), "……" -> "…", 本当 ホントー 0 (rise only), ？ -> ?.
    ("えっ……本当？", "えっ…本当？", "e ] cl … h o [ N t o o ?"),
    # full-width ？！ are not model marks until g2p maps them, so both stay.
    ("本当？！", "本当？！", "h o [ N t o o ? !"),
    # abc: エービーシー 0 + です chained (heiban: only the rise after e), whatever the case of the letters.
    ("ABCです", "ABCです", "e [ e b i i sh i i d e s u"),
    ("ＡＢＣです", "ＡＢＣです", "e [ e b i i sh i i d e s u"),
]


@pytest.mark.parametrize(("text", "norm", "phones"), JA_PREPROCESSED, ids=[c[0] for c in JA_PREPROCESSED])
@pytest.mark.parametrize("engine", ["auto", "pyopenjtalk-plus"])
def test_japanese_official_preprocessing(text, norm, phones, engine):
    ours, _, norm_text = text_to_phones(text, "ja", "v2", options=ReadingOptions(ja_engine=engine))
    assert norm_text == norm
    assert ours == phones.split()


# Japanese where pyopenjtalk-plus differs from the official reading: numbers with counters (OpenJTalk's
# njd_set_digit rules) and accent phrases. Checked only with the official engine installed.
JA_OFFICIAL = [
    # 三/本 サン 2 + ボン (C3 chain): one phrase of 4 morae with the nucleus on the 2nd: sa [ N ] bon; の
    # chains; ペン 1 starts a new phrase (# after N).
    ("3本のペン", "s a [ N ] b o N n o UNK p e ] N"),
    # 一/匹 イッ 2 + ピキ: i [ cl ] p i k i (nucleus on the sokuon mora); 猫 ネコ 1.
    ("1匹の猫", "i [ cl ] p i k i n o UNK n e ] k o"),
    # 百 ヒャク 2 + 円 エン chained: hya [ ku ] en; です chains.
    ("100円です。", "hy a [ k u ] e N d e s u ."),
    # The digit rule joins 十四日 into one word ジューヨッカ 1: no phrase border inside (# nowhere).
    ("14日", "j u ] u y o cl k a"),
    # 二十歳 as digits: ニ 3 + ジュッ + サイ chained -> the nucleus on the 3rd mora, the sokuon.
    ("20歳になりました。", "n i [ j u cl ] s a i n i UNK n a [ r i m a ] sh i t a ."),
    # 一/冊 イッ 2 + サツ: i [ cl ] s a ts u.
    ("1冊", "i [ cl ] s a ts u"),
    # 行こ/う イコー 0: heiban, no fall (plus puts a nucleus on ko).
    ("学校へ行こう、明日。", "g a [ cl k o o e UNK i [ k o o , a [ sh i t a ."),
    # い/ます (イ 2/1, not chained) starts its own phrase after 住んで: # after de, rise after i.
    ("3階に住んでいます。", "s a [ N g a i n i UNK s u ] N d e UNK i [ m a ] s u ."),
]

needs_openjtalk = pytest.mark.skipif(
    ja.find_openjtalk() is None,
    reason="OpenJTalk 1.11 + NAIST dictionary not installed (open-jtalk, open-jtalk-mecab-naist-jdic)",
)


@needs_openjtalk
@pytest.mark.parametrize(("text", "phones"), JA_OFFICIAL, ids=[c[0] for c in JA_OFFICIAL])
def test_japanese_counters_and_accents_with_the_official_engine(text, phones):
    options = ReadingOptions(ja_engine="openjtalk")
    assert text_to_phones(text, "ja", "v2", options=options)[0] == phones.split()
    assert text_to_phones(text, "ja", "v1", options=options)[0] == _v1(phones)
    assert text_to_phones(text, "ja", "v2")[0] == phones.split()  # auto picks it


def test_missing_official_engine_falls_back_or_errors(monkeypatch):
    monkeypatch.setattr(ja, "find_openjtalk", lambda: None)
    assert ja.select_engine("auto") is ja.PLUS
    with pytest.raises(FrontendError, match="open-jtalk-mecab-naist-jdic"):
        text_to_phones("雨", "ja", "v2", options=ReadingOptions(ja_engine="openjtalk"))
    with pytest.raises(FrontendError, match="unknown Japanese engine"):
        text_to_phones("雨", "ja", "v2", options=ReadingOptions(ja_engine="mecab"))
    run = preview("雨です", "ja", "v2")[0]
    assert run["backend"] == "pyopenjtalk-plus" and "no OpenJTalk 1.11" in run["notes"][0]
    options = ReadingOptions(ja_engine="pyopenjtalk-plus")
    assert "ja_engine=pyopenjtalk-plus" in preview("雨です", "ja", "v2", options=options)[0]["notes"][0]


# OpenJTalk 1.11's labels for 雨 (a\me, accent 1), as its -ot trace prints them.
_AME_LABELS = [
    "xx^xx-sil+a=m/A:xx+xx+xx/B:xx-xx_xx/C:xx_xx+xx/D:xx+xx_xx/E:xx_xx!xx_xx-xx/F:xx_xx#xx_xx@xx_xx|xx_xx"
    "/G:2_1%0_xx_xx/H:xx_xx/I:xx-xx@xx+xx&xx-xx|xx+xx/J:1_2/K:1+1-2",
    "xx^sil-a+m=e/A:0+1+2/B:xx-xx_xx/C:02_xx+xx/D:xx+xx_xx/E:xx_xx!xx_xx-xx/F:2_1#0_xx@1_1|1_2"
    "/G:xx_xx%xx_xx_xx/H:xx_xx/I:1-2@1+1&1-1|1+2/J:xx_xx/K:1+1-2",
    "sil^a-m+e=sil/A:1+2+1/B:xx-xx_xx/C:02_xx+xx/D:xx+xx_xx/E:xx_xx!xx_xx-xx/F:2_1#0_xx@1_1|1_2"
    "/G:xx_xx%xx_xx_xx/H:xx_xx/I:1-2@1+1&1-1|1+2/J:xx_xx/K:1+1-2",
    "a^m-e+sil=xx/A:1+2+1/B:xx-xx_xx/C:02_xx+xx/D:xx+xx_xx/E:xx_xx!xx_xx-xx/F:2_1#0_xx@1_1|1_2"
    "/G:xx_xx%xx_xx_xx/H:xx_xx/I:1-2@1+1&1-1|1+2/J:xx_xx/K:1+1-2",
    "m^e-sil+xx=xx/A:xx+xx+xx/B:xx-xx_xx/C:xx_xx+xx/D:xx+xx_xx/E:2_1!0_xx-xx/F:xx_xx#xx_xx@xx_xx|xx_xx"
    "/G:xx_xx%xx_xx_xx/H:1_2/I:xx-xx@xx+xx&xx-xx|xx+xx/J:xx_xx/K:1+1-2",
]


def test_openjtalk_program_is_found_beside_its_dictionary_and_its_trace_is_read(tmp_path, monkeypatch):
    # an unpacked package tree (usr/bin + var/lib/mecab/...) with a stand-in program printing a real trace
    binary = tmp_path / "usr" / "bin" / "open_jtalk"
    binary.parent.mkdir(parents=True)
    (tmp_path / "var/lib/mecab/dic/open-jtalk/naist-jdic").mkdir(parents=True)
    trace = "[Text analysis result]\n雨\n\n[Output label]\n"
    trace += (
        "".join(f"{i} {i + 1} {label}\n" for i, label in enumerate(_AME_LABELS)) + "\n[Global parameter]\n"
    )
    binary.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdin.read()\n"
        f"out = sys.argv[sys.argv.index('-ot') + 1]\nopen(out, 'w').write({trace!r})\n"
    )
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    ja.find_openjtalk.cache_clear()
    try:
        engine = ja.select_engine("openjtalk")
        assert engine.binary == binary and engine.dictionary.name == "naist-jdic"
        assert ja.g2p("雨。", engine) == ["a", "]", "m", "e", "."]
    finally:
        ja.find_openjtalk.cache_clear()
