"""Cut methods and the API pre-segmentation: hand-made cases plus the official golden outputs."""

from __future__ import annotations

import pytest

from GPT_SoVITS.text import cut


def test_cut1_groups_four_sentences_and_the_tail_joins_the_last_group():
    text = "一。二。三。四。五。六。七。八。九。"
    assert cut.cut1(text) == "一。二。三。四。\n五。六。七。八。九。"
    assert cut.cut1("一。二。三。") == "一。二。三。"


def test_cut2_cuts_after_fifty_characters():
    sentence = "这是一个大约十个字的句子。"  # 13 characters
    pieces = cut.cut_text(sentence * 10, "cut2")
    assert all(len(p) > 50 for p in pieces[:-1])
    assert "".join(pieces) == sentence * 10


def test_cut3_cut4_cut5_split_points():
    assert cut.cut3("你好。再见。") == "你好\n再见"
    # a '.' between digits is a decimal point, not a sentence end
    assert cut.cut4("Pi is 3.14 now. Next.") == "Pi is 3.14 now\n Next"
    assert cut.cut4("It is 3.14.") == "It is 3.14"  # a '.' after a digit never cuts
    assert cut.cut5("Pi is 3.14, ok? 好的！") == "Pi is 3.14,\n ok?\n 好的！"


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="cut9"):
        cut.cut_text("x", "cut9")


def test_empty_and_punctuation_only_input_give_nothing_to_speak():
    for method in cut.CUT_METHODS:
        assert cut.cut_text("", method) == []
        assert cut.preprocess_segments("。。。!?", method, "zh") == []
    assert cut.preprocess_segments("", "cut1", "zh") == []


def test_pre_segmentation_adds_stops_merges_and_splits():
    # very short first sentence: a full stop goes in front; every piece ends with a stop
    assert cut.preprocess_segments("嗯。好的我知道了", "cut0", "zh") == ["。嗯。好的我知道了。"]
    assert cut.preprocess_segments("Hi", "cut0", "en") == [".Hi."]
    long_text = "字" * 600
    pieces = cut.preprocess_segments(long_text, "cut0", "zh")
    assert all(len(p) <= cut.MAX_SEGMENT_CHARS for p in pieces)
    assert "".join(pieces).replace("。", "") == long_text


def test_merge_short_texts():
    assert cut.merge_short_texts(["a", "bc", "defg", "h"], 5) == ["abcdefgh"]
    assert cut.merge_short_texts(["abcde", "f"], 5) == ["abcdef"]
    assert cut.merge_short_texts(["ab"], 5) == ["ab"]


def test_golden_cut_group_passes(golden_dir):
    from GPT_SoVITS.parity.cut import run

    rows = run(golden_dir)
    failed = [r.row() for r in rows if not r.ok]
    assert len(rows) > 300 and not failed, failed[:5]
