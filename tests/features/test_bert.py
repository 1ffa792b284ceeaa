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
    # the third-to-last hidden layer of the whole masked-LM model (loaded as the official code does), not
    # the last one; the extractor keeps only the layers before it
    from transformers import AutoModelForMaskedLM

    full = AutoModelForMaskedLM.from_pretrained(str(tiny_bert), local_files_only=True).eval()
    with torch.no_grad():
        ids = bert.tokenizer(text, return_tensors="pt")
        out = full(**ids, output_hidden_states=True)
    assert len(out.hidden_states) == 4 and len(bert.model.encoder.layer) == 1
    torch.testing.assert_close(per_char, out.hidden_states[-3][0, 1:-1])
    assert not torch.allclose(per_char, out.hidden_states[-1][0, 1:-1])


def test_batched_features_equal_one_by_one_in_the_order_given(tiny_bert):
    bert = BertFeatureExtractor(tiny_bert)
    texts = ["你好世界我有个苹果", "你", "今天天气很好,", "", "苹果.", "我有个苹果今天天气很好你好世界"]
    items = [(t, [2] * len(t)) for t in texts]
    alone = [bert.features(t, w) for t, w in items]
    for max_tokens in (4096, 12):  # one pack; then packs of one or two texts
        batched = bert.features_many(items) if max_tokens == 4096 else None
        per_char = bert.char_features_many([t for t in texts if t], max_tokens=max_tokens)
        for t, feats in zip([t for t in texts if t], per_char, strict=True):
            assert feats.shape == (len(t), 1024)
            torch.testing.assert_close(feats, bert.char_features(t), atol=1e-5, rtol=1e-5)
        if batched is not None:
            for a, b in zip(alone, batched, strict=True):
                assert a.shape == b.shape
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert alone[3].shape == (1024, 0)
    passes = []
    hook = bert.model.register_forward_hook(lambda *_: passes.append(1))
    try:
        bert.char_features_many([t for t in texts if t], max_tokens=12)
        assert len(passes) == 4  # 11 | 3 + 9 | 5 | 17 positions: two texts shared one pass
        passes.clear()
        bert.features_many(items)
        assert len(passes) == 1
    finally:
        hook.remove()
    assert not torch.allclose(alone[0][:, :2], alone[5][:, 22:24])  # context matters: same char, other text


def test_features_reject_misaligned_word2ph(tiny_bert):
    bert = BertFeatureExtractor(tiny_bert)
    with pytest.raises(BertError, match="word2ph"):
        bert.features("你好", [2])
    with pytest.raises(BertError, match="你好"):
        bert.features_many([("世界", [2, 2]), ("你好", [2])])


def test_a_piece_longer_than_the_model_takes_is_a_clear_error(tiny_bert):
    bert = BertFeatureExtractor(tiny_bert)
    with pytest.raises(BertError, match="at most 510"):
        bert.char_features_many(["你好", "苹果" * 300])


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(BertError, match=r"config\.json"):
        BertFeatureExtractor(tmp_path)


def test_a_model_folder_of_another_kind_is_a_clear_error(tmp_path):
    from tests.tiny_models import make_tiny_hubert

    hubert = make_tiny_hubert(tmp_path / "hubert")
    with pytest.raises(BertError, match="hubert"):
        BertFeatureExtractor(hubert)


def test_phones_and_bert_uses_bert_for_chinese_and_zeros_for_english(tiny_bert):
    from GPT_SoVITS.text.phones_bert import phones_and_bert

    bert = BertFeatureExtractor(tiny_bert)
    ids, feats, norm = phones_and_bert("你好世界, hello world.", "zh", "v2", bert=bert)
    assert feats.shape == (1024, len(ids))
    assert norm.startswith("你好世界")
    zh_cols = 8  # 你 好 世 界: two phones each
    assert feats[:, :zh_cols].abs().sum() > 0
    assert feats[:, -4:].abs().sum() == 0  # the English run has no BERT features
    ids2, feats2, _ = phones_and_bert("你好世界, hello world.", "zh", "v2", bert=None)
    assert ids2 == ids and feats2.abs().sum() == 0
