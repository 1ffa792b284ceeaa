"""Japanese, Korean and Cantonese frontends on hand-written sentences.

Japanese: phonemes in OpenJTalk notation (cl = geminate, N = moraic nasal, long vowels doubled), written
from the kana readings; prosody marks are checked separately on words with a known Tokyo accent.
Korean: the pronounced form (liaison, nasalisation, tensing, aspiration) as compatibility jamo with
compound vowels split (ㅕ -> ㅣㅓ), 空 for a space, a final '.' added after a bare letter as officially.
Cantonese: jyutping, each syllable as Y+onset and Y+rhyme+tone.
"""

from __future__ import annotations

import pytest

from GPT_SoVITS.text.frontend import text_to_phones

JA_MARKS = {"[", "]", "UNK"}  # pitch rise / fall, and the phrase border '#' (no symbol: UNK)

JA_CASES = [
    ("こんにちは", "k o N n i ch i w a"),
    ("ありがとう", "a r i g a t o o"),
    ("私は学生です。", "w a t a sh i w a g a k u s e e d e s u ."),
    ("東京に行きます。", "t o o ky o o n i i k i m a s u ."),
    ("3月5日", "s a N g a ts u i ts u k a"),
    ("猫が好きです。", "n e k o g a s u k i d e s u ."),
    ("本当に？", "h o N t o o n i ?"),
    ("水を飲みたい。", "m i z u o n o m i t a i ."),
    ("ちょっと待って！", "ch o cl t o m a cl t e !"),
    ("日本語を勉強しています。", "n i h o N g o o b e N ky o o sh i t e i m a s u ."),
    ("コーヒーを一杯ください。", "k o o h i i o i cl p a i k u d a s a i ."),
    ("綺麗な花、赤い花。", "k i r e e n a h a n a , a k a i h a n a ."),
    ("彼女は先生ですか？", "k a n o j o w a s e N s e e d e s u k a ?"),
    ("雪が降っている。", "y u k i g a f u cl t e i r u ."),
    ("おはようございます", "o h a y o o g o z a i m a s u"),
]


@pytest.mark.parametrize(("text", "phones"), JA_CASES, ids=[c[0] for c in JA_CASES])
def test_japanese_sentence(text, phones):
    ours, word2ph, norm = text_to_phones(text, "ja", "v2")
    assert word2ph is None and norm == text
    assert [p for p in ours if p not in JA_MARKS] == phones.split()


def test_japanese_pitch_marks():
    # 雨 a\me falls after the first mora; 飴 a/me rises and stays high (heiban)
    assert text_to_phones("雨", "ja", "v2")[0] == ["a", "]", "m", "e"]
    assert text_to_phones("飴", "ja", "v2")[0] == ["a", "[", "m", "e"]
    # v1 has no pitch symbols: they become UNK
    assert text_to_phones("雨", "ja", "v1")[0] == ["a", "UNK", "m", "e"]


KO_CASES = [
    ("안녕하세요", "ㅇㅏㄴㄴㅣㅓㅇㅎㅏㅅㅔㅇㅣㅗ."),
    ("감사합니다", "ㄱㅏㅁㅅㅏㅎㅏㅁㄴㅣㄷㅏ."),
    ("학교", "ㅎㅏㄱㄲㅣㅗ."),
    ("국물", "ㄱㅜㅇㅁㅜㄹ."),
    ("좋아요", "ㅈㅗㅇㅏㅇㅣㅗ."),
    ("신라", "ㅅㅣㄹㄹㅏ."),
    ("먹어요", "ㅁㅓㄱㅓㅇㅣㅗ."),
    ("같이", "ㄱㅏㅊㅣ."),
    ("읽다", "ㅇㅣㄱㄸㅏ."),
    ("닭", "ㄷㅏㄱ."),
    ("없어요", "ㅇㅓㅂㅆㅓㅇㅣㅗ."),
    ("백로", "ㅂㅐㅇㄴㅗ."),
    ("밥을 먹었어요", "ㅂㅏㅂㅡㄹ空ㅁㅓㄱㅓㅆㅓㅇㅣㅗ."),
    ("한국어", "ㅎㅏㄴㄱㅜㄱㅓ."),
    ("놓다", "ㄴㅗㅌㅏ."),
    ("저는 학생입니다!", "ㅈㅓㄴㅡㄴ空ㅎㅏㄱㅆㅐㅇㅇㅣㅁㄴㅣㄷㅏ!"),
]


@pytest.mark.parametrize(("text", "jamo"), KO_CASES, ids=[c[0] for c in KO_CASES])
def test_korean_sentence(text, jamo):
    assert text_to_phones(text, "ko", "v2")[0] == list(jamo)


YUE_CASES = [
    ("你好", "Yn Yei5 Yh You2"),
    ("多謝", "Yd Yo1 Yz Ye6"),
    ("唔該", "Ym Ym4 Yg Yoi1"),  # m4 has no vowel: the official split repeats the m
    ("食飯", "Ys Yik6 Yf Yaan6"),
    ("我哋", "Yng Yo5 Yd Yei6"),
    ("香港", "Yh Yoeng1 Yg Yong2"),
    ("飲茶", "Yj Yam2 Yc Yaa4"),
    ("早晨", "Yz You2 Ys Yan4"),
    ("三個人", "Ys Yaam1 Yg Yo3 Yj Yan4"),
    ("好靚", "Yh You2 Yl Yeng3"),
    ("學生", "Yh Yok6 Ys Yaang1"),
    ("天氣", "Yt Yin1 Yh Yei3"),
    ("一齊", "Yj Yat1 Yc Yai4"),
    ("佢哋", "Yk Yeoi5 Yd Yei6"),
    ("10蚊", "Ys Yap6 Ym Yan1"),
    ("你好，我係學生。", "Yn Yei5 Yh You2 , Yng Yo5 Yh Yai6 Yh Yok6 Ys Yaang1 ."),
]


@pytest.mark.parametrize(("text", "phones"), YUE_CASES, ids=[c[0] for c in YUE_CASES])
def test_cantonese_sentence(text, phones):
    ours, word2ph, norm = text_to_phones(text, "yue", "v2")
    assert ours == phones.split()
    assert len(word2ph) == len(norm) and sum(word2ph) == len(ours)


def test_cantonese_override():
    phones, _, norm = text_to_phones("{行|hong4}街", "yue", "v2")
    assert norm == "行街" and phones[:2] == ["Yh", "Yong4"]


def test_korean_and_cantonese_need_v2_symbols():
    from GPT_SoVITS.text.langsplit import LanguageError

    for lang in ("ko", "yue"):
        with pytest.raises(LanguageError, match="v2"):
            text_to_phones("안녕", lang, "v1")
