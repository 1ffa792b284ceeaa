"""BERT features for Chinese text, aligned to phonemes (the official get_bert_feature).

The model is a local ``chinese-roberta-wwm-ext-large``-shaped folder (config.json, weights, vocab.txt);
nothing is downloaded. For each character of the normalised text the hidden state of the third-to-last
layer is taken and repeated once per phoneme of that character (``word2ph``), giving [1024, n_phones].
"""

from __future__ import annotations

import threading
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
        except OSError as e:
            raise BertError(f"{model_dir}: cannot load the tokenizer or weights: {e}") from e
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.to(self.device, dtype).eval()
        self.hidden_size = int(model.config.hidden_size)
        self._lock = threading.Lock()

    @torch.inference_mode()
    def char_features(self, text: str) -> torch.Tensor:
        """[len(text), hidden] float32 on CPU: one row per character (the [CLS]/[SEP] rows dropped)."""
        inputs = self.tokenizer(text, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with self._lock:
            out = self.model(**inputs, output_hidden_states=True)
        hidden = out.hidden_states[-3][0, 1:-1]  # (T, hidden): third-to-last layer, as the official code
        if hidden.shape[0] != len(text):
            raise BertError(
                f"the tokenizer split {text[:40]!r} into {hidden.shape[0]} tokens for {len(text)} "
                "characters; Chinese text must tokenize one token per character"
            )
        return hidden.float().cpu()

    def features(self, norm_text: str, word2ph: list[int]) -> torch.Tensor:
        """[hidden (1024), sum(word2ph)] float32: each character's feature repeated word2ph[i] times."""
        if len(word2ph) != len(norm_text):
            raise BertError(
                f"word2ph has {len(word2ph)} entries for {len(norm_text)} characters of {norm_text!r}"
            )
        if not norm_text:
            return torch.zeros(self.hidden_size, 0)
        per_char = self.char_features(norm_text)  # (chars, hidden)
        counts = torch.tensor(word2ph, dtype=torch.long)
        return per_char.repeat_interleave(counts, dim=0).T.contiguous()
