"""Device and precision, resolved once at each entry point (``--device``, ``--precision``)."""

from __future__ import annotations

import logging

import torch

from GPT_SoVITS.errors import UserError

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class DeviceError(UserError):
    """A ``--device`` or ``--precision`` value this machine cannot honour; ``field`` names the flag."""


def resolve_device(spec: str = "auto") -> torch.device:
    """ "auto" -> the first CUDA device if present, else CPU; "cuda[:N]" must exist."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as e:
        raise DeviceError(f"--device: {spec!r} is not a device (use auto, cpu, cuda or cuda:N)") from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device: {spec!r} asked for CUDA, but no CUDA device is available")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"--device: {spec!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type not in ("cpu", "mps"):
        raise DeviceError(f"--device: unsupported device type {device.type!r}")
    return device


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """ "fp32" | "fp16" | "bf16"; fp16 on CPU falls back to fp32 (CPU half kernels are slow or missing)."""
    try:
        dtype = PRECISIONS[precision.lower()]
    except KeyError as e:
        raise DeviceError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}") from e
    if dtype == torch.float16 and device.type == "cpu":
        log.warning("fp16 is not supported on CPU; using fp32")
        return torch.float32
    return dtype


def resolve(device: str = "auto", precision: str = "fp32") -> tuple[torch.device, torch.dtype]:
    """Both flags at once; precision ``auto`` is fp16 on CUDA, else fp32."""
    dev = resolve_device(device)
    if precision == "auto":
        precision = "fp16" if dev.type == "cuda" else "fp32"
    return dev, resolve_dtype(precision, dev)
