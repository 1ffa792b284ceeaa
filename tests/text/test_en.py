"""English frontend on hand-written sentences; expected ARPAbet written from the CMU dictionary readings."""

from __future__ import annotations

import pytest

from GPT_SoVITS.text.frontend import text_to_phones

CASES = [
    ("Hello.", "HH AH0 L OW1 ."),
    ("I have 2 cats.", "AY1 HH AE1 V T UW1 K AE1 T S ."),
    ("It costs $5.", "IH1 T K AA1 S T S F AY1 V D AA1 L ER0 Z ."),
    ("The 1st place.", "DH AH0 F ER1 S T P L EY1 S ."),
    ("I will read it.", "AY1 W IH1 L R IY1 D IH1 T ."),
    ("NASA and FBI.", "EH1 N EY1 EH1 S EY1 AH0 N D EH1 F B IY1 AY1 ."),
    # compound numbers carry secondary stress on the second part (CMU: twenty-five)
    ("It is 25% off.", "IH1 T IH1 Z T W EH1 N T IY0 F AY2 V P ER0 S EH1 N T AO1 F ."),
    ("Don't stop!", "D OW1 N T S T AA1 P !"),
    ("3 + 4 = 7", "TH R IY1 P L AH1 S F AO1 R IY1 K W AH0 L Z S EH1 V AH0 N"),
    ("We paid £20.", "W IY1 P EY1 D T W EH1 N T IY0 P AW1 N D Z ."),
    ("It's 1,000 miles.", "IH1 T S W AH1 N TH AW1 Z AH0 N D M AY1 L Z ."),
    ("The year 1999.", "DH AH0 Y IH1 R N AY1 N T IY1 N N AY1 N T IY0 N AY1 N ."),
    ("Hello, world!", "HH AH0 L OW1 , W ER1 L D !"),
    ("Is it 3/4?", "IH1 Z IH1 T TH R IY1 F AO1 R TH S ?"),
    ("My cat's toy.", "M AY1 K AE1 T S T OY1 ."),
    ("Wait; then go.", "W EY1 T , DH EH1 N G OW1 ."),
]


@pytest.mark.parametrize(("text", "phones"), CASES, ids=[c[0] for c in CASES])
def test_english_sentence(text, phones):
    ours, word2ph, _ = text_to_phones(text, "en", "v2")
    assert word2ph is None
    assert ours == phones.split()


def test_numbers_are_read_as_words():
    assert text_to_phones("In 2023.", "en")[2] == "In twenty twenty-three."
    assert text_to_phones("$12.50", "en")[2] == "twelve dollars and fifty cents"
    assert text_to_phones("It is 3:30 now.", "en")[2] == "It is three thirty a.m. now."


def test_unknown_word_goes_through_the_neural_model():
    phones, _, _ = text_to_phones("Zorbulent.", "en")
    assert phones[-1] == "." and len(phones) >= 6
    assert phones[0] == "Z"


def test_override_and_user_dictionary():
    assert text_to_phones("I {read|R EH1 D} it.", "en")[0] == ["AY1", "R", "EH1", "D", "IH1", "T", "."]
    phones = text_to_phones("We use SoVITS now.", "en", user_dict={"SoVITS": "S OW1 V IH0 T S"})[0]
    # "use" after a pronoun is a verb: Y UW1 Z
    assert phones == ["W", "IY1", "Y", "UW1", "Z", "S", "OW1", "V", "IH0", "T", "S", "N", "AW1", "."]


def test_bad_arpabet_override_is_a_clear_error():
    from GPT_SoVITS.text.frontend import FrontendError

    with pytest.raises(FrontendError, match="not ARPAbet"):
        text_to_phones("{read|R XX D}", "en")
