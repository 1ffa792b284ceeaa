"""GPT_SoVITS.slicer: the official algorithm against the goldens, and the additions (length cap, mix)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from GPT_SoVITS.parity.slicer import run
from GPT_SoVITS.slicer import (
    WEBUI_DEFAULTS,
    SlicerParams,
    derive_frames,
    get_rms,
    normalize_chunk,
    slice_audio,
    slice_frames,
    split_long_chunks,
)
from tests.tools.conftest import tone


def test_parity_group_matches_goldens(golden_dir):
    results = run(golden_dir, "slicer")
    assert len(results) >= 10
    failed = [r.row() for r in results if not r.ok]
    assert not failed, failed


def test_parity_group_detects_a_wrong_parameter(golden_dir, tmp_path):
    """The comparison can fail: a golden file with a different threshold makes the chunk cases fail."""
    import json
    import shutil

    spec = json.loads((golden_dir / "slicer.json").read_text())
    spec["results"]["webui_defaults"]["params"]["threshold"] = -20
    (tmp_path / "slicer.json").write_text(json.dumps(spec))
    shutil.copy(golden_dir / "slicer_input.npz", tmp_path / "slicer_input.npz")
    rows = {r.case: r for r in run(tmp_path, "slicer")}
    assert not rows["webui_defaults/derived"].ok
    assert rows["class_defaults/mono"].ok


def test_rms_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(10_000).astype(np.float32)
    rms = get_rms(y, 1280, 320)
    padded = np.pad(y.astype(np.float64), 640)
    direct = [np.sqrt(np.mean(padded[i * 320 : i * 320 + 1280] ** 2)) for i in range(len(rms))]
    assert len(rms) == 1 + (len(padded) - 1280) // 320
    np.testing.assert_allclose(rms, direct, rtol=1e-5)


def test_silence_splits_and_positions_are_frame_multiples():
    sr = 32000
    wav = np.concatenate([tone(5), np.zeros(sr, np.float32), tone(6)])
    chunks = slice_audio(wav, WEBUI_DEFAULTS)
    assert len(chunks) == 2
    hop = derive_frames(WEBUI_DEFAULTS).hop_size
    assert all(c.start % hop == 0 and c.end % hop == 0 for c in chunks)
    # the cut is inside the silence and at most max_sil_kept (0.5 s) of it stays beside each chunk
    assert 5 * sr <= chunks[0].end <= 5.5 * sr + hop
    assert 5.5 * sr - hop <= chunks[1].start <= 6 * sr
    # stereo gives the same positions as its mono mix
    stereo = np.stack([wav, wav * 0.5])
    assert [(c.start, c.end) for c in slice_audio(stereo)] == [(c.start, c.end) for c in chunks]


def test_split_long_chunks_cuts_at_the_quietest_frame():
    sr = 32000
    wav = tone(40)
    wav[int(12.0 * sr) : int(12.05 * sr)] *= 0.2  # a dip, not silence: the official slicer keeps one chunk
    params = dataclasses.replace(WEBUI_DEFAULTS)
    spans, rms = slice_frames(wav, params)
    assert len(spans) == 1
    fp = derive_frames(params)
    capped = split_long_chunks(spans, rms, max_frames=round(15 * sr / fp.hop_size), min_frames=fp.min_length)
    lengths = [(e - s) * fp.hop_size / sr for s, e in capped]
    assert all(length <= 15 for length in lengths), lengths
    assert capped[0][0] == 0 and capped[-1][1] == spans[0][1]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(capped))  # contiguous, nothing lost
    assert abs(capped[0][1] * fp.hop_size / sr - 12.0) < 0.1  # the first cut is the dip
    assert split_long_chunks(spans, rms, 0, fp.min_length) == spans


def test_normalize_chunk_official_mix():
    chunk = np.array([0.1, -0.5, 0.25], dtype=np.float32)
    out = normalize_chunk(chunk, max_peak=0.9, alpha=0.25)
    np.testing.assert_allclose(out, chunk / 0.5 * 0.9 * 0.25 + 0.75 * chunk, rtol=1e-6)
    assert np.array_equal(normalize_chunk(np.zeros(4, np.float32)), np.zeros(4, np.float32))
    assert np.abs(normalize_chunk(np.array([2.0, -1.0], np.float32))).max() <= 1.0


def test_parameter_order_is_checked():
    import pytest

    with pytest.raises(ValueError, match="min_length"):
        derive_frames(SlicerParams(min_length=100, min_interval=300))
