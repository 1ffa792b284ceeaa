"""G2PW integration: file discovery, input preparation and decoding, with a tiny numpy scoring model.

The real G2PW ONNX weights cannot be had offline; the model here is a small deterministic scorer with the
same inputs and output (scores over the reading labels, masked by phoneme_mask), so the test exercises our
label tables, masks, positions, bopomofo->pinyin conversion and the frontend's backend record.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from GPT_SoVITS.text import zh
from GPT_SoVITS.text.g2pw import G2PW, find_g2pw


class NeighbourScorer:
    """Scores reading labels from the token before the query: after 銀 the first reading of a character
    wins, otherwise the last one (a stand-in for BERT context)."""

    def __init__(self, vocab: dict[str, int], n_labels: int):
        self.yin = vocab["銀"]
        self.n_labels = n_labels
        self.calls = []

    def run(self, outputs, feeds):
        self.calls.append(feeds)
        rows = []
        for ids, mask, pos in zip(
            feeds["input_ids"], feeds["phoneme_mask"], feeds["position_ids"], strict=True
        ):
            allowed = np.flatnonzero(mask)
            scores = np.zeros(self.n_labels, np.float32)
            pick = allowed[0] if ids[pos - 1] == self.yin else allowed[-1]
            scores[pick] = 1.0
            rows.append(scores * mask)
        return [np.stack(rows)]


@pytest.fixture
def g2pw_files(tmp_path):
    model = tmp_path / "G2PWModel"
    model.mkdir()
    (model / "g2pW.onnx").write_bytes(b"")
    (model / "POLYPHONIC_CHARS.txt").write_text(
        "行\tㄏㄤ2\n行\tㄒㄧㄥ2\n長\tㄓㄤ3\n長\tㄔㄤ2\n", encoding="utf-8"
    )
    (model / "MONOPHONIC_CHARS.txt").write_text("銀\tㄧㄣ2\n", encoding="utf-8")
    table = {"ㄏㄤ": "hang", "ㄒㄧㄥ": "xing", "ㄓㄤ": "zhang", "ㄔㄤ": "chang", "ㄧㄣ": "yin"}
    (model / "bopomofo_to_pinyin_wo_tune_dict.json").write_text(
        json.dumps(table, ensure_ascii=False), "utf-8"
    )
    (model / "config.py").write_text("use_mask = True\nuse_char_phoneme = False\n", encoding="utf-8")
    bert = tmp_path / "chinese-roberta-wwm-ext-large"
    bert.mkdir()
    (bert / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *"銀行長他"]), "utf-8")
    return tmp_path


def _model(root) -> tuple[G2PW, NeighbourScorer]:
    model_dir, tok_dir = find_g2pw(root)
    vocab = {t: i for i, t in enumerate((tok_dir / "vocab.txt").read_text("utf-8").splitlines())}
    scorer = NeighbourScorer(vocab, 4)
    return G2PW(model_dir, tok_dir, session=scorer), scorer


def test_find_g2pw_needs_every_file(g2pw_files):
    assert find_g2pw(g2pw_files) is not None
    (g2pw_files / "G2PWModel" / "MONOPHONIC_CHARS.txt").unlink()
    assert find_g2pw(g2pw_files) is None


def test_readings_come_from_the_model_within_each_characters_labels(g2pw_files):
    model, scorer = _model(g2pw_files)
    # 银 is monophonic (listed); each 行 and 长 is a query; after 银 the first listed reading wins
    assert model.sentence_pinyin("银行行长") == ["yin2", "hang2", "xing2", "chang2"]
    feeds = scorer.calls[-1]
    assert feeds["input_ids"].shape[0] == 3  # three polyphonic queries in one batch
    assert list(feeds["position_ids"]) == [2, 3, 4]  # +1 for [CLS]
    assert feeds["phoneme_mask"].sum(axis=1).tolist() == [2.0, 2.0, 2.0]


def test_chinese_frontend_records_the_g2pw_path(g2pw_files):
    model, _ = _model(g2pw_files)
    with_model = zh.g2p("银行行长", "v2", g2pw=model)
    without = zh.g2p("银行行长", "v2")
    assert with_model.backend == "g2pw" and without.backend == "pypinyin"
    assert with_model.phones[:4] == ["y", "in2", "h", "ang2"]
    # the second 行 is xing (its tone is the sandhi's business: 行行 inside one jieba word is reduplication)
    assert with_model.phones[4] == "x" and with_model.phones[5].startswith("ing")
    assert with_model.phones[6:8] == ["ch", "ang2"]
    assert len(with_model.word2ph) == 4
