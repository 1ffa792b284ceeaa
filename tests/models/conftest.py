"""Fixtures shared by the model tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

# The smallest SoVITS config the official classes allow: hidden/inter 192 and gin 512 are hard-wired in
# MRTE; everything else is reduced. The decoder still upsamples by 640 (= hop_length).
TINY_SOVITS_CONFIG: dict[str, Any] = {
    "train": {"segment_size": 2560},
    "data": {"filter_length": 2048, "hop_length": 640, "sampling_rate": 32000, "n_speakers": 300},
    "model": {
        "inter_channels": 192,
        "hidden_channels": 192,
        "filter_channels": 64,
        "n_heads": 2,
        "n_layers": 2,
        "kernel_size": 3,
        "p_dropout": 0.1,
        "resblock": "1",
        "resblock_kernel_sizes": [3],
        "resblock_dilation_sizes": [[1, 3, 5]],
        "upsample_rates": [10, 8, 2, 2, 2],
        "upsample_initial_channel": 32,
        "upsample_kernel_sizes": [16, 16, 8, 2, 2],
        "gin_channels": 512,
        "semantic_frame_rate": "25hz",
        "freeze_quantizer": True,
        "version": "v2",
    },
}


@pytest.fixture
def tiny_sovits_config() -> dict[str, Any]:
    """A fresh deep copy of the tiny SoVITS config (tests may edit it)."""
    return copy.deepcopy(TINY_SOVITS_CONFIG)
