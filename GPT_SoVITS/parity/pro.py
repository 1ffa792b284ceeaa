"""Parity groups ``sv`` (16 kHz audio -> fbank -> SV embedding) and ``pro`` (v2Pro/v2ProPlus decode).

``sv``: ``sv_embedding.json`` names the SV model (relative to ``models/``) and the clips of ``pro_refs.npz``;
``sv_embedding.npz`` holds ``fbank_<i>``, ``embedding_<i>`` and the batched ``batch_*`` outputs.
``pro``: ``pro_decode_cases.json`` lists cases per version; the model of a version is the SoVITS file under
``models/`` detected as that version; ``pro_<version>_inputs.npz`` gives ``ssl``/``codes`` for the latent
check. The waveform comes from the model's own ``decode``; the intermediates from the step-by-step
decode below (the official order: per-reference style with the SV projection and PReLU, mean,
``ge_to512`` for MRTE, prior, flow, decoder): parity instrumentation, kept here and out of the model.
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
from GPT_SoVITS.features.sv import SpeakerEncoder
from GPT_SoVITS.models.sovits import SynthesizerTrn, load_sovits_model
from GPT_SoVITS.parity.core import CaseResult, compare_arrays, compare_exact, failure

log = logging.getLogger(__name__)

# README 5 (suggested acceptance) and precision_report.json (float32 vs float64: fbank <= 8.8e-5 on values
# up to ~15, embeddings <= 2.1e-7, Pro waveforms <= 4.2e-6)
FBANK_TOL = 1e-3
EMBEDDING_TOL = 1e-5
WAV_TOL = 1e-4
INTERMEDIATE_TOL = 1e-4
SV_JSON, SV_NPZ = "sv_embedding.json", "sv_embedding.npz"
CASES_FILE = "pro_decode_cases.json"
DECODE_INPUTS = {"codes", "phones", "noise_scale", "speed", "injected_noise", "ref_indices"}


# -- sv ---------------------------------------------------------------------------------------------------
def run_sv(golden: Path, group: str) -> list[CaseResult]:
    meta = json.loads((golden / SV_JSON).read_text(encoding="utf-8"))
    encoder = SpeakerEncoder(golden / "models" / meta["model_file"])
    data = np.load(golden / SV_NPZ)
    refs = np.load(golden / meta.get("refs_file", "pro_refs.npz"))
    results = []
    if "embedding_dim" in meta:
        results.append(
            compare_exact(group, "embedding_dim", encoder.embedding_dim, int(meta["embedding_dim"]))
        )
    for ref in meta["references"]:
        i = int(ref["index"])
        wav = refs[f"wav16k_{i}"].reshape(1, -1)
        results.append(
            compare_arrays(group, f"fbank_{i}", encoder.fbank(wav).numpy(), data[f"fbank_{i}"], FBANK_TOL)
        )
        emb = encoder.embed(wav).numpy()
        results.append(compare_arrays(group, f"embedding_{i}", emb, data[f"embedding_{i}"], EMBEDDING_TOL))
    if "batch" in meta and "batch_embedding" in data.files:
        n = int(meta["batch"]["n_samples_each"])
        wavs = np.stack([refs[f"wav16k_{int(r['index'])}"].reshape(-1)[:n] for r in meta["references"]])
        results.append(
            compare_arrays(group, "batch_fbank", encoder.fbank(wavs).numpy(), data["batch_fbank"], FBANK_TOL)
        )
        emb = encoder.embed(wavs).numpy()
        results.append(compare_arrays(group, "batch_embedding", emb, data["batch_embedding"], EMBEDDING_TOL))
    return results


# -- pro --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def find_version_model(golden: Path, version: str) -> Path:
    """The one SoVITS file under ``golden/models`` detected as ``version``."""
    found = []
    for path in sorted((golden / "models").rglob("*.pth")):
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as e:
            log.debug("skipping %s: %s", path, e)
            continue
        if ckpt.kind == "sovits" and ckpt.version.value == version:
            found.append(path)
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected one {version} SoVITS file under {golden / 'models'}, found {found}"
        )
    return found[0]


@functools.lru_cache(maxsize=4)
def _model(path: Path) -> SynthesizerTrn:
    return load_sovits_model(path, device="cpu")


@torch.no_grad()
def decode_steps(
    model: SynthesizerTrn,
    codes: torch.Tensor,
    phones: torch.Tensor,
    specs: list[torch.Tensor],
    svs: list[torch.Tensor],
    noise_scale: float,
    speed: float,
    noise: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """The v2Pro decode up to the decoder's input, with every intermediate the goldens record (names as
    there); noise None: zeros."""
    out: dict[str, torch.Tensor] = {}
    ge_ref, proj, ges = [], [], []
    for spec, sv in zip(specs, svs, strict=True):
        mask = torch.ones(spec.size(0), 1, spec.size(2))
        ge_ref.append(model.ref_enc(spec[:, : model.ref_bins] * mask, mask))  # (B, gin, 1)
        proj.append(model.sv_emb(sv))  # (B, gin)
        ges.append(model.prelu(ge_ref[-1] + proj[-1].unsqueeze(-1)))
    ge = torch.stack(ges).mean(0)
    out.update(
        ge_ref_enc_per_ref=torch.stack(ge_ref), sv_emb_proj_per_ref=torch.stack(proj),
        ge_after_prelu_per_ref=torch.stack(ges), ge_mean=ge, ge512=model.text_style(ge),
    )  # fmt: skip
    y_lengths = torch.tensor([codes.size(2) * 2])
    quantized = model._upsample_codes(model.quantizer.decode(codes))
    x, m_p, logs_p, y_mask = model.enc_p(
        quantized, y_lengths, phones, torch.tensor([phones.size(-1)]), out["ge512"], speed
    )
    noise = torch.zeros_like(m_p) if noise is None else noise
    z_p = m_p + noise * torch.exp(logs_p) * noise_scale
    z = model.flow(z_p, y_mask, g=ge, reverse=True)
    out.update(
        enc_p_in_quantized_upsampled=quantized, enc_p_out_x=x, enc_p_out_m_p=m_p, enc_p_out_logs_p=logs_p,
        enc_p_out_y_mask=y_mask, flow_in_z_p=z_p, flow_out_z=z, dec_in=z * y_mask, dec_g=ge,
    )  # fmt: skip
    return out  # the waveform itself is compared from the model's own decode


def run_case(golden: Path, version: str, name: str, case: dict[str, Any], refs_file: str) -> list[CaseResult]:
    group, label = "pro", f"{version}.{name}"
    model = _model(find_version_model(golden, version))
    data = np.load(golden / f"pro_{version}_decode_{name}.npz")
    refs = np.load(golden / refs_file)
    indices = [int(i) for i in case["ref_indices"]]
    specs = [torch.from_numpy(refs[f"spec_{i}"]).float() for i in indices]
    svs = [torch.from_numpy(refs[f"sv_emb_{i}"]).float() for i in indices]
    speed = float(data["speed"]) if "speed" in data.files else float(case["speed"])
    noise_scale = float(data["noise_scale"]) if "noise_scale" in data.files else float(case["noise_scale"])
    codes, phones = torch.from_numpy(data["codes"]).long(), torch.from_numpy(data["phones"]).long()
    noise = torch.from_numpy(data["injected_noise"]).float() if "injected_noise" in data.files else None
    if noise is None and noise_scale:
        return [failure(group, label, "noise_scale > 0 without injected_noise: not reproducible")]
    steps = decode_steps(model, codes, phones, specs, svs, noise_scale, speed, noise)
    if noise is None:  # noise_scale 0: the draw does not matter
        noise = torch.zeros_like(steps["enc_p_out_m_p"])
    wav = model.decode(codes, phones, specs, noise_scale=noise_scale, speed=speed, noise=noise, sv_emb=svs)
    results = [compare_arrays(group, label, wav.numpy(), data["wav"], WAV_TOL)]
    for key in data.files:
        if key in DECODE_INPUTS or key == "wav":
            continue
        if key not in steps:
            results.append(failure(group, f"{label}.{key}", "intermediate not produced"))
            continue
        results.append(
            compare_arrays(group, f"{label}.{key}", steps[key].numpy(), data[key], INTERMEDIATE_TOL)
        )
    return results


def run_latent(golden: Path, version: str) -> list[CaseResult]:
    path = golden / f"pro_{version}_inputs.npz"
    if not path.is_file():
        return []
    data = np.load(path)
    codes = _model(find_version_model(golden, version)).extract_latent(torch.from_numpy(data["ssl"]).float())
    if tuple(codes.shape) != data["codes"].shape:
        return [
            failure("pro", f"{version}.codes", f"shape {list(codes.shape)} != {list(data['codes'].shape)}")
        ]
    return [
        compare_exact(
            "pro", f"{version}.codes", codes.numpy().ravel().tolist(), data["codes"].ravel().tolist()
        )
    ]


def run_pro(golden: Path) -> list[CaseResult]:
    table = json.loads((golden / CASES_FILE).read_text(encoding="utf-8"))
    cases = table.get("cases") or {}
    if not cases:
        return [failure("pro", "*", f"{CASES_FILE} lists no cases")]
    results = []
    for version, version_cases in cases.items():
        try:
            results.extend(run_latent(golden, version))
        except (FileNotFoundError, CheckpointError) as e:
            results.append(failure("pro", f"{version}.codes", str(e)))
        for name, case in version_cases.items():
            try:
                results.extend(run_case(golden, version, name, case, table.get("refs_file", "pro_refs.npz")))
            except (KeyError, ValueError, FileNotFoundError, CheckpointError) as e:
                results.append(failure("pro", f"{version}.{name}", f"{type(e).__name__}: {e}"))
    return results


def run(golden: Path, group: str) -> list[CaseResult]:
    if group == "sv":
        return run_sv(golden, group)
    if group == "pro":
        return run_pro(golden)
    raise ValueError(f"group {group!r} is not implemented by {__name__}")
