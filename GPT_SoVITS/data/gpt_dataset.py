"""GPT training data: (phone ids, semantic codes, BERT features) per item, and collate.

As the official ``Text2SemanticDataset``: items come from 6-name2semantic.tsv joined with 2-name2text;
items with more than ``max_sec`` seconds of codes (25 codes/s), more than ``max_sec * 25 / 2.5`` phones, or
a phones-per-second ratio outside ``[min_ps, max_ps]`` are left out; small sets are repeated to about 100
entries. BERT features come from 3-bert/ where present and are zeros otherwise (non-Chinese items).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from GPT_SoVITS.config.gpt import GPTDataConfig
from GPT_SoVITS.data.experiment import Experiment, ExperimentError
from GPT_SoVITS.data.sovits_dataset import MIN_EPOCH_ITEMS, repeat_small

log = logging.getLogger(__name__)

CODES_PER_SECOND = 25  # semantic frame rate "25hz"
BERT_DIM = 1024


@dataclass(frozen=True)
class GPTItem:
    name: str
    phone_ids: tuple[int, ...]
    codes: tuple[int, ...]


def filter_reason(n_phones: int, n_codes: int, data: GPTDataConfig) -> str | None:
    """Why the official dataset would leave an item out, or None."""
    if n_codes == 0:
        return "no semantic codes"
    if n_codes > data.max_sec * CODES_PER_SECOND:
        return f"{n_codes / CODES_PER_SECOND:.1f} s of codes > max_sec {data.max_sec}"
    if n_phones > data.max_sec * CODES_PER_SECOND / 2.5:
        return f"{n_phones} phones > {data.max_sec * CODES_PER_SECOND / 2.5:.0f}"
    ratio = n_phones / (n_codes / CODES_PER_SECOND)
    if not data.min_ps_ratio <= ratio <= data.max_ps_ratio:
        return f"{ratio:.1f} phones/s outside {data.min_ps_ratio}-{data.max_ps_ratio}"
    return None


class GPTDataset(Dataset):
    def __init__(
        self,
        exp: Experiment,
        to_ids: Callable[[Sequence[str]], list[int]],
        data: GPTDataConfig,
        names: Sequence[str] | None = None,
        min_items: int = MIN_EPOCH_ITEMS,
    ) -> None:
        self.exp = exp
        text = exp.read_text()
        semantic = exp.read_semantic()
        items: list[GPTItem] = []
        self.skipped: dict[str, str] = {}
        wanted = set(names) if names is not None else None
        for name, codes in semantic.items():
            if wanted is not None and name not in wanted:
                continue
            if name not in text:
                self.skipped[name] = "not in 2-name2text.txt"
                continue
            ids = to_ids(text[name].phones)
            why = filter_reason(len(ids), len(codes), data)
            if why:
                self.skipped[name] = why
                continue
            items.append(GPTItem(name, tuple(ids), tuple(codes)))
        for name, why in self.skipped.items():
            log.warning("%s: left out of GPT training: %s", name, why)
        if not items:
            raise ExperimentError(f"{exp.root}: no item left for GPT training ({len(self.skipped)} filtered)")
        self.items = repeat_small(items, min_items)
        self.pad = data.pad_val
        self.lengths = [len(it.codes) for it in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def bert(self, item: GPTItem) -> torch.Tensor | None:
        path = self.exp.bert_path(item.name)
        if not path.is_file():
            return None
        feat = torch.load(path, map_location="cpu", weights_only=True).float()
        if feat.shape[-1] != len(item.phone_ids):
            raise ExperimentError(
                f"{path}: {feat.shape[-1]} BERT columns but {item.name} has {len(item.phone_ids)} phones"
            )
        return feat

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        return {"idx": index, "phone_ids": item.phone_ids, "codes": item.codes, "bert": self.bert(item)}

    def collate(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        """phoneme_ids [B, N] (pad 0), semantic_ids [B, T] (pad = EOS), lengths, bert_feature [B, 1024, N]."""
        b = len(examples)
        x_lens = torch.tensor([len(e["phone_ids"]) for e in examples], dtype=torch.long)
        y_lens = torch.tensor([len(e["codes"]) for e in examples], dtype=torch.long)
        x = np.zeros((b, int(x_lens.max())), dtype=np.int64)
        y = np.full((b, int(y_lens.max())), self.pad, dtype=np.int64)
        bert = torch.zeros(b, BERT_DIM, int(x_lens.max()))
        for i, e in enumerate(examples):
            x[i, : len(e["phone_ids"])] = e["phone_ids"]
            y[i, : len(e["codes"])] = e["codes"]
            if e["bert"] is not None:
                bert[i, :, : e["bert"].shape[-1]] = e["bert"]
        return {
            "phoneme_ids": torch.from_numpy(x),
            "phoneme_ids_len": x_lens,
            "semantic_ids": torch.from_numpy(y),
            "semantic_ids_len": y_lens,
            "bert_feature": bert,
        }
