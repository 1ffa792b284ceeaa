"""BertFeatureExtractor on a tiny random BertForMaskedLM (hidden size 1024) saved in a temp folder."""

from __future__ import annotations

import pytest
import torch

from GPT_SoVITS.features.bert import BertError, BertFeatureExtractor
from tests.tiny_models import make_tiny_bert

CHARS = "你好世界我有个苹果今天气很"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), [",", ".", *CHARS])


def test_features_repeat_each_character_row_by_word2ph(tiny_bert):
    bert = BertFeatureExtractor(tiny_bert)
    text, word2ph = "你好,世界.", [2, 2, 1, 2, 2, 1]
    feats = bert.features(text, word2ph)
    assert feats.shape == (1024, sum(word2ph))
    assert feats.dtype == torch.float32
    per_char = bert.char_features(text)
    # character i fills word2ph[i] consecutive columns
    col = 0
    for i, n in enumerate(word2ph):
        for _ in range(n):
            assert torch.equal(feats[:, col], per_char[i])
            col += 1
    # the third-to-last hidden layer, not the last one
    with torch.no_grad():
        ids = bert.tokenizer(text, return_tensors="pt")
        out = bert.model(**ids, output_hidden_states=True)
    assert torch.allclose(per_char, out.hidden_states[-3][0, 1:-1])
    assert not torch.allclose(per_char, out.hidden_states[-1][0, 1:-1])


def test_features_reject_misaligned_word2ph(tiny_bert):
    bert = BertFeatureExtractor(tiny_bert)
    with pytest.raises(BertError, match="word2ph"):
        bert.features("你好", [2])


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BertError, match=r"config\.json"):
        BertFeatureExtractor(tmp_path)


def test_phones_and_bert_uses_bert_for_chinese_and_zeros_for_english(tiny_bert):
    from GPT_SoVITS.text.frontend import phones_and_bert

    bert = BertFeatureExtractor(tiny_bert)
    ids, feats, norm = phones_and_bert("你好世界, hello world.", "zh", "v2", bert=bert)
    assert feats.shape == (1024, len(ids))
    assert norm.startswith("你好世界")
    zh_cols = 8  # 你 好 世 界: two phones each
    assert feats[:, :zh_cols].abs().sum() > 0
    assert feats[:, -4:].abs().sum() == 0  # the English run has no BERT features
    ids2, feats2, _ = phones_and_bert("你好世界, hello world.", "zh", "v2", bert=None)
    assert ids2 == ids and feats2.abs().sum() == 0
