"""Parity group ``slicer``: GPT_SoVITS.slicer against the official ``tools/slicer2.py`` outputs.

Reads ``slicer.json`` (input description, parameter sets, derived frame parameters, chunks for the mono
and the stereo signal) and ``slicer_input.npz`` (the signal and ``rms_<set>`` curves). Chunk positions
and lengths must be equal exactly; the RMS curve within float32 rounding.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from GPT_SoVITS.parity.core import CaseResult, compare_arrays, compare_exact, failure
from GPT_SoVITS.slicer import SlicerParams, derive_frames, get_rms, slice_audio

RMS_TOLERANCE = 1e-6
_STEREO_RE = re.compile(r"np\.roll\(wav,\s*(-?\d+)\)\s*\*\s*np\.float32\(([-+0-9.eE]+)\)")


def _stereo(wav: np.ndarray, recipe: str) -> np.ndarray:
    """Build the stereo signal from the recipe string in slicer.json (shift and gain of channel 2)."""
    match = _STEREO_RE.search(recipe)
    if match is None:
        raise ValueError(f"slicer.json: input.stereo_recipe not understood: {recipe!r}")
    shift, gain = int(match.group(1)), np.float32(float(match.group(2)))
    return np.stack([wav, np.roll(wav, shift) * gain], 0).astype(np.float32)


def _params(raw: dict) -> SlicerParams:
    known = {f.name for f in dataclasses.fields(SlicerParams)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"slicer.json: unknown slicer parameters {sorted(unknown)}")
    return SlicerParams(**raw)


def _chunk_rows(chunks: list, stereo: bool) -> list[list]:
    if stereo:
        return [[c.start, c.end, list(c.audio.shape)] for c in chunks]
    return [[c.start, c.end, int(c.audio.shape[0])] for c in chunks]


def _golden_rows(rows: list[dict], stereo: bool) -> list[list]:
    key = "shape" if stereo else "n_samples"
    return [[r["start"], r["end"], r[key]] for r in rows]


def _run_set(group: str, name: str, entry: dict, signals: dict[str, np.ndarray]) -> list[CaseResult]:
    params = _params(entry["params"])
    results = []
    ours_derived = dataclasses.asdict(derive_frames(params))
    results.append(compare_exact(group, f"{name}/derived", ours_derived, entry["derived"]))
    for layout, wav in signals.items():
        if layout not in entry:
            continue
        stereo = wav.ndim > 1
        ours = _chunk_rows(slice_audio(wav, params), stereo)
        golden = _golden_rows(entry[layout], stereo)
        note = f"{len(golden)} chunks"
        case = compare_exact(group, f"{name}/{layout}", ours, golden)
        results.append(case if not case.ok else dataclasses.replace(case, note=note))
    return results


def _run_rms(group: str, data: dict, spec: dict) -> list[CaseResult]:
    wav = data[spec["input"]["key"]]
    results = []
    for key in sorted(k for k in data if k.startswith("rms_")):
        set_name = key[len("rms_") :]
        if set_name not in spec["results"]:
            results.append(failure(group, key, f"no parameter set {set_name!r} in slicer.json"))
            continue
        derived = derive_frames(_params(spec["results"][set_name]["params"]))
        ours = get_rms(wav, derived.win_size, derived.hop_size)
        results.append(compare_arrays(group, key, ours, data[key], RMS_TOLERANCE))
    return results


def run(golden: Path, group: str) -> list[CaseResult]:
    spec = json.loads((golden / "slicer.json").read_text(encoding="utf-8"))
    with np.load(golden / spec["input"]["file"]) as npz:
        data = {k: npz[k] for k in npz.files}
    wav = data[spec["input"]["key"]]
    signals = {"mono": wav}
    results: list[CaseResult] = []
    try:
        signals["stereo"] = _stereo(wav, spec["input"]["stereo_recipe"])
    except (KeyError, ValueError) as e:
        results.append(failure(group, "stereo", str(e)))
    for name, entry in spec["results"].items():
        results.extend(_run_set(group, name, entry, signals))
    results.extend(_run_rms(group, data, spec))
    return results
