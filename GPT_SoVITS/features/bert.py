"""BERT features for Chinese text, aligned to phonemes (the official get_bert_feature).

The model is a local ``chinese-roberta-wwm-ext-large``-shaped folder (config.json, weights, vocab.txt);
nothing is downloaded. For each character of the normalised text the hidden state of the third-to-last
layer is taken and repeated once per phoneme of that character (``word2ph``), giving [1024, n_phones].

Two savings over the official call, same numbers (within float32 rounding):
- the last two encoder layers and the masked-LM head are dropped at load: the feature is the output of
  layer N-2, and nothing after it is read;
- ``char_features_many`` runs many texts in one padded forward pass (attention masks keep the padding out).
  One sentence of a dozen characters is a 12-row product that reads all 1.2 GB of BERT-large's weights;
  27 such pieces took 5 s one by one and 1.3 s batched on 2 CPU cores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import torch


class BertError(ValueError):
    """The model folder or the text/word2ph pair cannot be used (the message says which)."""


class BertFeatureExtractor:
    """A loaded BERT model; ``features`` is thread-safe (one forward pass at a time)."""

    def __init__(
        self, model_dir: Path | str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ):
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise BertError(f"{model_dir}: not a BERT model folder (config.json missing)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
            model = AutoModelForMaskedLM.from_pretrained(str(model_dir), local_files_only=True)
        except Exception as e:  # transformers raises OSError, ValueError or TypeError for other folders
            kind = type(e).__name__
            raise BertError(f"{model_dir}: cannot load a BERT tokenizer and weights ({kind}: {e})") from e
        self.device = torch.device(device)
        self.dtype = dtype
        encoder = model.base_model  # the BertModel without the masked-LM head
        layers = getattr(getattr(encoder, "encoder", None), "layer", None)
        if not isinstance(layers, torch.nn.ModuleList):
            raise BertError(
                f"{model_dir}: not a BERT-style model ({type(model).__name__} has no encoder.layer)"
            )
        if len(layers) < 2:
            raise BertError(f"{model_dir}: {len(layers)} encoder layer(s); the features need at least 2")
        # hidden_states[-3] of the full model is the output of layer N-2: keep just the layers before it
        encoder.encoder.layer = layers[: len(layers) - 2]
        self.model = encoder.to(self.device, dtype).eval()
        self.hidden_size = int(model.config.hidden_size)
        self._lock = threading.Lock()

    def char_features(self, text: str) -> torch.Tensor:
        """[len(text), hidden] float32 on CPU: one row per character (the [CLS]/[SEP] rows dropped)."""
        return self.char_features_many([text])[0]

    @torch.inference_mode()
    def char_features_many(self, texts: Sequence[str], max_tokens: int = 4096) -> list[torch.Tensor]:
        """``char_features`` of each text, run in padded batches of at most ``max_tokens`` positions.

        Texts are grouped by length (``length_groups``); the results come back in the order given.
        """
        out: list[torch.Tensor | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for group in length_groups([len(texts[i]) + 2 for i in order], max_tokens):
            indices = [order[j] for j in group]
            for i, feats in zip(indices, self._forward([texts[i] for i in indices]), strict=True):
                out[i] = feats
        return out  # type: ignore[return-value]

    def _forward(self, texts: list[str]) -> list[torch.Tensor]:
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with self._lock:
            hidden = self.model(**inputs).last_hidden_state  # (B, T, hidden), layer N-2
        counts = inputs["attention_mask"].sum(1).tolist()
        feats = []
        for row, (text, n) in enumerate(zip(texts, counts, strict=True)):
            if n - 2 != len(text):
                raise BertError(
                    f"the tokenizer split {text[:40]!r} into {n - 2} tokens for {len(text)} "
                    "characters; Chinese text must tokenize one token per character"
                )
            feats.append(hidden[row, 1 : n - 1].float().cpu())
        return feats

    def features(self, norm_text: str, word2ph: list[int]) -> torch.Tensor:
        """[hidden (1024), sum(word2ph)] float32: each character's feature repeated word2ph[i] times."""
        return self.features_many([(norm_text, word2ph)])[0]

    def features_many(self, items: Sequence[tuple[str, list[int]]]) -> list[torch.Tensor]:
        """``features`` of each (norm_text, word2ph), the BERT passes batched (``char_features_many``)."""
        for norm_text, word2ph in items:
            if len(word2ph) != len(norm_text):
                raise BertError(
                    f"word2ph has {len(word2ph)} entries for {len(norm_text)} characters of {norm_text!r}"
                )
        texts = [t for t, _ in items if t]
        per_char = iter(self.char_features_many(texts) if texts else [])
        out = []
        for norm_text, word2ph in items:
            if not norm_text:
                out.append(torch.zeros(self.hidden_size, 0))
                continue
            counts = torch.tensor(word2ph, dtype=torch.long)
            out.append(next(per_char).repeat_interleave(counts, dim=0).T.contiguous())
        return out


# What one more forward pass costs, in positions computed: BERT-large on a 2-core CPU (measured) took
# ~150 ms + ~3.1 ms per padded position, so a pass of a few rows costs about as much as 48 more positions.
PASS_COST_POSITIONS = 48


def length_groups(
    lengths: Sequence[int], max_tokens: int, pass_cost: int = PASS_COST_POSITIONS
) -> list[list[int]]:
    """Split ascending ``lengths`` into runs of consecutive indices, one padded batch each.

    Minimises the padded positions (rows x longest) plus ``pass_cost`` per batch, by dynamic programming
    over the sorted lengths; no batch holds more than ``max_tokens`` padded positions (a single longer
    text still gets a batch of its own).
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n  # best[j]: cost of the first j lengths
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j - 1, -1, -1):  # batch = lengths[i:j], padded to lengths[j - 1]
            padded = (j - i) * lengths[j - 1]
            if padded > max_tokens and j - i > 1:
                break
            cost = best[i] + padded + pass_cost
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups = []
    j = n
    while j > 0:
        groups.append(list(range(cut[j], j)))
        j = cut[j]
    return groups[::-1]
