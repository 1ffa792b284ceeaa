"""Device and precision, resolved once at each entry point (``--device``, ``--precision``)."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(spec: str = "auto") -> torch.device:
    """ "auto" -> the first CUDA device if present, else CPU; "cuda[:N]" must exist."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as e:
        raise ValueError(f"--device: {spec!r} is not a device (use auto, cpu, cuda or cuda:N)") from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device: {spec!r} asked for CUDA, but no CUDA device is available")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"--device: {spec!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type not in ("cpu", "mps"):
        raise ValueError(f"--device: unsupported device type {device.type!r}")
    return device


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """ "fp32" | "fp16" | "bf16"; fp16 on CPU falls back to fp32 (CPU half kernels are slow or missing)."""
    try:
        dtype = PRECISIONS[precision.lower()]
    except KeyError as e:
        raise ValueError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}") from e
    if dtype == torch.float16 and device.type == "cpu":
        log.warning("fp16 is not supported on CPU; using fp32")
        return torch.float32
    return dtype
