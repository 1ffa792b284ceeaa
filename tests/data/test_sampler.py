"""BucketBatchSampler: buckets, replica split, determinism per epoch, resume offset."""

from __future__ import annotations

import pytest

from GPT_SoVITS.data.sampler import BucketBatchSampler
from GPT_SoVITS.data.sovits_dataset import SOVITS_BOUNDARIES, collate_sovits, repeat_small

LENGTHS = [40, 50, 310, 320, 330, 35, 20, 2000, 60, 45, 305, 299]


def test_batches_stay_in_one_bucket_and_drop_out_of_range() -> None:
    s = BucketBatchSampler(LENGTHS, 2, SOVITS_BOUNDARIES, shuffle=True, seed=3)
    seen = set()
    for batch in s.batches():
        buckets = {
            next(j for j in range(len(SOVITS_BOUNDARIES) - 1) if LENGTHS[i] <= SOVITS_BOUNDARIES[j + 1])
            for i in batch
        }
        assert len(buckets) == 1
        seen |= set(batch)
    assert 6 not in seen and 7 not in seen  # 20 <= 32 and 2000 > 1900 frames: outside every bucket
    assert seen == set(range(len(LENGTHS))) - {6, 7}
    assert len(s.batches()) == len(s)


def test_replicas_split_the_epoch_and_agree_on_order() -> None:
    world = 2
    parts = [BucketBatchSampler(LENGTHS, 2, SOVITS_BOUNDARIES, world, r, seed=1) for r in range(world)]
    for p in parts:
        p.set_epoch(5)
    a, b = (p.batches() for p in parts)
    assert len(a) == len(b) == len(parts[0])  # equal step counts, or DDP would hang
    flat_a = {i for batch in a for i in batch}
    flat_b = {i for batch in b for i in batch}
    assert flat_a | flat_b == set(range(len(LENGTHS))) - {6, 7}


def test_epoch_seeding_and_resume_offset() -> None:
    s = BucketBatchSampler(LENGTHS, 2, SOVITS_BOUNDARIES, seed=0)
    s.set_epoch(1)
    first = s.batches()
    s.set_epoch(2)
    second = s.batches()
    s.set_epoch(1)
    assert s.batches() == first and first != second
    s.set_epoch(1, start_batch=2)
    assert list(s) == first[2:]


def test_sorted_chunks_without_boundaries() -> None:
    s = BucketBatchSampler([5, 1, 4, 2, 3, 9], 2, None, shuffle=False)
    assert s.batches() == [[1, 3], [4, 2], [0, 5]]
    with pytest.raises(ValueError, match="batch_size"):
        BucketBatchSampler([1], 0)


def test_repeat_small_follows_the_official_rule() -> None:
    assert len(repeat_small(list(range(6)))) == 6 * 16
    assert len(repeat_small(list(range(60)))) == 120  # at least two copies
    assert len(repeat_small(list(range(150)))) == 150
    assert len(repeat_small(list(range(6)), 0)) == 6


def test_collate_pads_to_even_lengths_longest_first() -> None:
    import torch

    def item(frames: int, phones: int):
        return (
            torch.ones(1, 768, frames),
            torch.ones(1025, frames),
            torch.ones(1, frames * 640),
            torch.ones(phones).long(),
        )

    ssl, _ssl_len, spec, spec_len, wav, _wav_len, text, text_len = collate_sovits([item(5, 3), item(8, 6)])
    assert spec_len.tolist() == [8, 5] and text_len.tolist() == [6, 3]
    assert spec.shape == (2, 1025, 10) and ssl.shape == (2, 768, 10)  # next even number above the max
    assert wav.shape == (2, 1, 8 * 640) and text.shape == (2, 6)
    assert spec[1, :, 5:].abs().sum() == 0 and text[1, 3:].sum() == 0
