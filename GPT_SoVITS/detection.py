"""SoVITS version detection: what a file's bytes (the official fast rule) and its weights say.

The official ``get_sovits_version_from_path_fast`` looks at the MD5 of the first 8 KiB (released files),
then the 2-byte header, then the size; ``sovits_version`` refines a plain zip from its content.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.versions import (
    HEADER_TO_VERSION,
    MD5_PREFIX_BYTES,
    RELEASED_SOVITS_MD5,
    V1_MAX_BYTES,
    V2_MAX_BYTES,
    ModelVersion,
    spec,
    symbol_version_for_rows,
)

SOVITS_EMBEDDING_KEY = "enc_p.text_embedding.weight"
SV_EMB_KEY = "sv_emb.weight"  # present only in v2Pro/v2ProPlus weights
# v2ProPlus' decoder starts with a kernel-20 upsampling (v2Pro and v2: 16); weight_v of a weight-normed conv
FIRST_UPSAMPLE_KEYS = ("dec.ups.0.weight_v", "dec.ups.0.weight")
V2PROPLUS_FIRST_KERNEL = 20


class CheckpointError(UserError):
    """A file that is not a usable checkpoint; the message names the file."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class Detection:
    """What a SoVITS file's bytes say about it, without unpickling (the official fast rule)."""

    symbol_version: str  # "v1" | "v2"
    version: ModelVersion
    is_lora: bool
    rule: str  # "md5" (released file), "header" (2-byte marker) or "size" (plain zip by size)

    def as_official(self) -> list[Any]:
        """The official ``[symbol version, model version, is LoRA]`` triple."""
        return [self.symbol_version, self.version.value, self.is_lora]


def md5_prefix(path: str | os.PathLike) -> str:
    """MD5 of the first 8192 bytes: the key of the official table of released files."""
    with open(path, "rb") as f:
        return hashlib.md5(f.read(MD5_PREFIX_BYTES)).hexdigest()


def sniff_sovits_version(path: str | os.PathLike) -> Detection:
    """The official ``get_sovits_version_from_path_fast``: released-file MD5, then header, then size.

    Only the first bytes and the size are read. A plain zip is classed by size alone (< 82978 KiB v1,
    < 700 MiB v2, else v3), so small or unusual plain files come out as v1; ``load_checkpoint`` refines
    that from the content. An unknown header raises ``CheckpointError`` (the official code: KeyError).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    released = RELEASED_SOVITS_MD5.get(md5_prefix(path))
    if released is not None:
        return Detection(released[0], released[1], released[2], "md5")
    with open(path, "rb") as f:
        header = f.read(2)
    if header != b"PK":
        if header not in HEADER_TO_VERSION:
            raise CheckpointError(path, f"unknown version header {header!r} (expected 'PK' or one of 00..06)")
        version, is_lora = HEADER_TO_VERSION[header]
        return Detection(spec(version).symbol_version, version, is_lora, "header")
    size = path.stat().st_size
    if size < V1_MAX_BYTES:
        return Detection("v1", ModelVersion.V1, False, "size")
    if size < V2_MAX_BYTES:
        return Detection("v2", ModelVersion.V2, False, "size")
    return Detection("v2", ModelVersion.V3, False, "size")


def _config_version(config: Any) -> ModelVersion | None:
    """``version`` written into the config by the trainers (top level or model section), if known."""
    if not isinstance(config, Mapping):
        return None
    model = config.get("model")
    for value in (config.get("version"), model.get("version") if isinstance(model, Mapping) else None):
        try:
            return ModelVersion(str(value))
        except ValueError:
            continue
    return None


def sovits_version(
    header: bytes, md5: str, weight: Mapping[str, torch.Tensor], config: Any, info: str, size: int
) -> ModelVersion:
    """Model version of a SoVITS file: the official MD5 and header tables first, then the content.

    Where the official fast rule falls back to the file size, we look at the weights instead: ``cfm.*``
    keys mean v3/v4 (which one: the config's ``version``, else the official "pretrained_s2G_v4" info),
    ``sv_emb`` means v2Pro/v2ProPlus (which one: the config, else the decoder's first kernel), otherwise
    the phoneme table's rows tell v1 from v2; the size rule is the last resort.
    """
    if md5 in RELEASED_SOVITS_MD5:
        return RELEASED_SOVITS_MD5[md5][1]
    if header in HEADER_TO_VERSION:
        return HEADER_TO_VERSION[header][0]
    stated = _config_version(config)
    if any(k.startswith("cfm.") for k in weight):
        if stated in (ModelVersion.V3, ModelVersion.V4):
            return stated
        return ModelVersion.V4 if info == "pretrained_s2G_v4" else ModelVersion.V3
    if SV_EMB_KEY in weight:
        if stated in (ModelVersion.V2PRO, ModelVersion.V2PROPLUS):
            return stated
        ups = next((weight[k] for k in FIRST_UPSAMPLE_KEYS if k in weight), None)
        plus = ups is not None and ups.shape[-1] == V2PROPLUS_FIRST_KERNEL
        return ModelVersion.V2PROPLUS if plus else ModelVersion.V2PRO
    emb = weight.get(SOVITS_EMBEDDING_KEY)
    if emb is not None:
        return ModelVersion.V1 if symbol_version_for_rows(emb.shape[0]) == "v1" else ModelVersion.V2
    if size < V1_MAX_BYTES:
        return ModelVersion.V1
    return ModelVersion.V2 if size < V2_MAX_BYTES else ModelVersion.V3
