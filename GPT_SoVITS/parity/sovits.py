"""Parity groups ``latent`` (semantic code extraction) and ``decode`` (SoVITS synthesis).

Inputs, settings and the model all come from the golden folder: the SoVITS model is whichever file of
``models/`` loads as a SoVITS checkpoint; ``sovits_extract_latent.npz`` holds ``ssl_<i>`` / ``codes_<i>``
pairs; ``sovits_decode_cases.json`` lists the decode cases, each with ``sovits_decode_<case>.npz``.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from GPT_SoVITS.checkpoints import CheckpointError, load_checkpoint
from GPT_SoVITS.models.sovits import SynthesizerTrn, load_sovits_model
from GPT_SoVITS.parity.core import CaseResult, compare_arrays, compare_exact, failure
from GPT_SoVITS.parity.hooks import sovits_decode_steps

log = logging.getLogger(__name__)

WAV_TOL = 1e-4  # README: SoVITS waveform and intermediates within ~1e-4 absolute (float32 vs float64 ~3e-6)
INTERMEDIATE_TOL = 1e-4
LATENT_FILE = "sovits_extract_latent.npz"
CASES_FILE = "sovits_decode_cases.json"
# arrays of a decode npz that are inputs or settings, not outputs
DECODE_INPUTS = {"codes", "phones", "noise_scale", "speed", "injected_noise", "ref_indices"}


def find_sovits_model(golden: Path) -> Path:
    """The one file under ``golden/models`` that loads as a SoVITS checkpoint."""
    found = []
    for path in sorted((golden / "models").glob("*")):
        if not path.is_file() or path.suffix in (".json", ".md", ".txt"):
            continue
        try:
            if load_checkpoint(path).kind == "sovits":
                found.append(path)
        except CheckpointError as e:
            log.debug("skipping %s: %s", path, e)
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected exactly one SoVITS checkpoint in {golden / 'models'}, found {found}"
        )
    return found[0]


def run_latent(model: SynthesizerTrn, golden: Path) -> list[CaseResult]:
    data = np.load(golden / LATENT_FILE)
    keys = sorted((k for k in data.files if k.startswith("ssl_")), key=lambda k: int(k.split("_")[1]))
    if not keys:
        return [failure("latent", "*", f"no ssl_<i> arrays in {LATENT_FILE}")]
    results = []
    for key in keys:
        idx = key.split("_", 1)[1]
        case = f"codes_{idx}"
        if case not in data.files:
            results.append(failure("latent", case, f"{LATENT_FILE} has {key} but no {case}"))
            continue
        codes = model.extract_latent(torch.from_numpy(data[key]).float()).numpy()
        golden_codes = data[case]
        if codes.shape != golden_codes.shape:
            results.append(
                failure("latent", case, f"shape {list(codes.shape)} != golden {list(golden_codes.shape)}")
            )
            continue
        results.append(compare_exact("latent", case, codes.ravel().tolist(), golden_codes.ravel().tolist()))
    return results


def _refs(golden: Path, case: dict[str, Any], name: str) -> list[torch.Tensor]:
    refs_file = case.get("refs_file")
    if not refs_file:
        raise KeyError(f"{CASES_FILE}: case {name!r} has no refs_file")
    refs = np.load(golden / refs_file)
    return [torch.from_numpy(refs[f"spec_{int(i)}"]).float() for i in case["ref_indices"]]


def run_decode_case(model: SynthesizerTrn, golden: Path, name: str, case: dict[str, Any]) -> list[CaseResult]:
    data = np.load(golden / f"sovits_decode_{name}.npz")
    refs = _refs(golden, case, name)
    if case.get("refer_is_list", True):
        refer: torch.Tensor | list[torch.Tensor] = refs
    elif len(refs) == 1:
        refer = refs[0]
    else:
        return [failure("decode", name, f"refer_is_list false with {len(refs)} references")]
    # settings from the npz (float64 0-d arrays; speed must stay double precision), else from the json
    speed = float(data["speed"]) if "speed" in data.files else float(case["speed"])
    noise_scale = float(data["noise_scale"]) if "noise_scale" in data.files else float(case["noise_scale"])
    noise = torch.from_numpy(data["injected_noise"]).float() if "injected_noise" in data.files else None
    steps = sovits_decode_steps(
        model,
        torch.from_numpy(data["codes"]).long(),
        torch.from_numpy(data["phones"]).long(),
        refer,
        noise_scale=noise_scale,
        speed=speed,
        noise=noise,
    )
    results = [compare_arrays("decode", name, steps["wav"].numpy(), data["wav"], WAV_TOL)]
    for key in data.files:
        if key in DECODE_INPUTS or key == "wav":
            continue
        case_name = f"{name}.{key}"
        if key not in steps:
            results.append(failure("decode", case_name, "intermediate not produced by our decode"))
            continue
        results.append(compare_arrays("decode", case_name, steps[key].numpy(), data[key], INTERMEDIATE_TOL))
    return results


def run_decode(model: SynthesizerTrn, golden: Path) -> list[CaseResult]:
    cases = json.loads((golden / CASES_FILE).read_text(encoding="utf-8"))
    if not cases:
        return [failure("decode", "*", f"{CASES_FILE} lists no cases")]
    results = []
    for name, case in cases.items():
        try:
            results.extend(run_decode_case(model, golden, name, case))
        except (KeyError, ValueError, FileNotFoundError) as e:
            results.append(failure("decode", name, f"{type(e).__name__}: {e}"))
    return results


@functools.lru_cache(maxsize=1)
def _model(path: Path) -> SynthesizerTrn:
    """Loaded once for both groups of one run."""
    return load_sovits_model(path, device="cpu")


def run(golden: Path, group: str) -> list[CaseResult]:
    model = _model(find_sovits_model(golden))
    if group == "latent":
        return run_latent(model, golden)
    if group == "decode":
        return run_decode(model, golden)
    raise ValueError(f"group {group!r} is not implemented by {__name__}")
