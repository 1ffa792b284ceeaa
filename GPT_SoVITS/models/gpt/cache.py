"""A preallocated key/value cache for incremental decoding.

The official decoder concatenates the cache every step (a copy of the whole cache per token per layer);
here each layer writes its new keys/values into a buffer sized for the whole run and attends to a view.
"""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of every layer, ``(layers, B, H, max_len, Dh)``, filled up to ``length``."""

    def __init__(
        self,
        num_layers: int,
        batch: int,
        num_heads: int,
        max_len: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        shape = (num_layers, batch, num_heads, max_len, head_dim)
        # uninitialised: only positions < length are ever read, and every one of them is written first
        self.k = torch.empty(shape, dtype=dtype, device=device)
        self.v = torch.empty(shape, dtype=dtype, device=device)
        self.length = 0  # positions written by every layer so far

    @property
    def max_len(self) -> int:
        return self.k.shape[3]

    @property
    def batch(self) -> int:
        return self.k.shape[1]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write (B, H, T, Dh) at ``length`` for one layer; return views of positions 0 .. length+T-1."""
        start = self.length
        end = start + k.shape[2]
        if end > self.max_len:
            raise RuntimeError(f"KV cache full: {end} positions needed, {self.max_len} allocated")
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, steps: int) -> None:
        """Called once every layer has appended ``steps`` positions."""
        self.length += steps

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only the batch rows ``rows`` (finished items leave a batched decode)."""
        self.k = self.k.index_select(1, rows)
        self.v = self.v.index_select(1, rows)
