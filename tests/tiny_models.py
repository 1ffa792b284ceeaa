"""Tiny random BERT / HuBERT folders in the shapes the pipeline expects (transformers local layout)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_bert(folder: Path, tokens: Iterable[str]) -> Path:
    """A random BertForMaskedLM with hidden 1024 (the width the GPT expects) over a small vocabulary.

    Three layers, so hidden_states[-3] (the official feature layer) is not the embedding output.
    """
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = BERT_SPECIALS + [t for t in dict.fromkeys(tokens) if t not in BERT_SPECIALS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=1024,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertForMaskedLM(config).eval().save_pretrained(folder)
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def make_tiny_hubert(folder: Path) -> Path:
    """A random HubertModel with hidden 768; the official conv strides keep the 50 Hz frame rate."""
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    config = HubertConfig(
        hidden_size=768,
        num_hidden_layers=1,
        num_attention_heads=12,
        intermediate_size=256,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=16,
    )
    HubertModel(config).eval().save_pretrained(folder)
    return folder
