"""Length-bucketed batch sampler for one or many processes (DDP), resumable mid-epoch.

Semantics of the official ``DistributedBucketSampler`` (module/data_utils.py): items are grouped into
length buckets ``(b[i], b[i+1]]`` (items outside every bucket are dropped), each bucket is padded by
repetition to a multiple of ``num_replicas * batch_size``, every replica takes every ``num_replicas``-th
item, and the batch order is shuffled with a generator seeded by the epoch, so all replicas agree without
communicating. With ``boundaries=None`` (the GPT data) items are sorted by length and cut into chunks of
``batch_size`` instead.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class BucketBatchSampler(Sampler[list[int]]):
    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        boundaries: Sequence[int] | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside 0..{num_replicas - 1}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.start_batch = 0  # batches of this epoch already consumed (resume mid-epoch)
        self.buckets = self._make_buckets(boundaries)
        if not self.buckets:
            raise ValueError("no item falls inside the length buckets")
        group = num_replicas * batch_size
        self.padded_sizes = [len(b) + (group - len(b) % group) % group for b in self.buckets]

    def _make_buckets(self, boundaries: Sequence[int] | None) -> list[list[int]]:
        if boundaries is None:
            order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], i))
            group = self.num_replicas * self.batch_size
            return [order[i : i + group] for i in range(0, len(order), group)]
        bounds = list(boundaries)
        buckets: list[list[int]] = [[] for _ in range(len(bounds) - 1)]
        for i, length in enumerate(self.lengths):
            j = bisect.bisect_left(bounds, length) - 1  # bucket j holds bounds[j] < length <= bounds[j+1]
            if 0 <= j < len(buckets):
                buckets[j].append(i)
        return [b for b in buckets if b]

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's order; ``start_batch`` skips that many batches (resume mid-epoch)."""
        self.epoch = epoch
        self.start_batch = start_batch

    def batches(self) -> list[list[int]]:
        """All batches of this replica for the current epoch, in order."""
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        out: list[list[int]] = []
        for bucket, padded in zip(self.buckets, self.padded_sizes, strict=True):
            order = (
                torch.randperm(len(bucket), generator=g).tolist()
                if self.shuffle
                else list(range(len(bucket)))
            )
            reps, rem = divmod(padded - len(bucket), len(bucket))
            order = order + order * reps + order[:rem]
            mine = order[self.rank :: self.num_replicas]
            out.extend(
                [bucket[k] for k in mine[j : j + self.batch_size]]
                for j in range(0, len(mine) - self.batch_size + 1, self.batch_size)
            )
        if self.shuffle:
            out = [out[i] for i in torch.randperm(len(out), generator=g).tolist()]
        return out

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches()[self.start_batch :])

    def __len__(self) -> int:
        """Batches per epoch (without the resume offset)."""
        return sum(p // self.num_replicas // self.batch_size for p in self.padded_sizes)
