"""BERT features for Chinese text, aligned to phonemes (the official get_bert_feature).

The model is a local ``chinese-roberta-wwm-ext-large``-shaped folder (config.json, weights, vocab.txt);
nothing is downloaded. For each character of the normalised text the hidden state of the third-to-last
layer is taken and repeated once per phoneme of that character (``word2ph``), giving [1024, n_phones].

Two savings over the official call, same numbers (within float32 rounding):
- the last two encoder layers and the masked-LM head are dropped at load: the feature is the output of
  layer N-2, and nothing after it is read;
- ``char_features_many`` runs many texts in one forward pass, packed side by side in one sequence (a
  block-diagonal attention mask keeps them apart; no padding). One sentence of a dozen characters is a
  12-row product that reads all 1.2 GB of BERT-large's weights: 27 such pieces (228 positions) took 5 s
  one by one, 1.3 s in length-grouped padded batches and 1.05 s packed, on 2 CPU cores.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import torch

from GPT_SoVITS.errors import UserError


class BertError(UserError):
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
    def char_features_many(self, texts: Sequence[str], max_tokens: int = 512) -> list[torch.Tensor]:
        """``char_features`` of each text, in the order given, from as few forward passes as fit.

        Texts are packed side by side into sequences of at most ``max_tokens`` positions (a longer text
        gets a pass of its own). In a pack each text attends only to itself (a block-diagonal attention
        mask) and its positions restart at 0, so it gets the features it gets alone; no padding is
        computed. The attention over a pack grows with its square: 512 positions add ~8 % to BERT-large's
        products.
        """
        ids: list[list[int]] = self.tokenizer(list(texts))["input_ids"] if texts else []
        limit = int(getattr(self.model.config, "max_position_embeddings", 512))
        for text, row in zip(texts, ids, strict=True):
            if len(row) - 2 != len(text):
                raise BertError(
                    f"the tokenizer split {text[:40]!r} into {len(row) - 2} tokens for {len(text)} "
                    "characters; Chinese text must tokenize one token per character"
                )
            if len(row) > limit:
                raise BertError(
                    f"{text[:40]!r}...: {len(text)} characters; the BERT model takes at most {limit - 2} "
                    "per piece (split the text)"
                )
        out: list[torch.Tensor] = []
        pack: list[list[int]] = []
        for row in ids:
            if pack and sum(map(len, pack)) + len(row) > max_tokens:
                out += self._forward(pack)
                pack = []
            pack.append(row)
        if pack:
            out += self._forward(pack)
        return out

    def _forward(self, rows: list[list[int]]) -> list[torch.Tensor]:
        """One pass over token rows packed into one sequence; per row its characters' features (float32,
        CPU), [CLS]/[SEP] dropped."""
        lengths = torch.tensor([len(r) for r in rows])
        input_ids = torch.tensor([t for r in rows for t in r], device=self.device)[None]
        positions = torch.cat([torch.arange(n) for n in lengths.tolist()]).to(self.device)[None]
        owner = torch.repeat_interleave(torch.arange(len(rows)), lengths).to(self.device)
        blocked = owner[:, None] != owner[None, :]  # keys of another text
        mask = torch.zeros(blocked.shape, dtype=self.dtype, device=self.device)
        mask = mask.masked_fill(blocked, torch.finfo(self.dtype).min)[None, None]  # additive, (1, 1, T, T)
        with self._lock:
            hidden = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                token_type_ids=torch.zeros_like(input_ids),
                position_ids=positions,
            ).last_hidden_state[0]  # (T, hidden), layer N-2
        starts = (lengths.cumsum(0) - lengths).tolist()
        spans = zip(starts, lengths.tolist(), strict=True)
        return [hidden[a + 1 : a + n - 1].float().cpu() for a, n in spans]

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
