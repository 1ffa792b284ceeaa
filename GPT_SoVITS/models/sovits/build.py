"""Build a SoVITS synthesizer from a checkpoint config, and load official weights into it strictly."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import torch

from GPT_SoVITS.checkpoints import SOVITS_EMBEDDING_KEY, Checkpoint, CheckpointError, load_sovits
from GPT_SoVITS.detection import SV_EMB_KEY
from GPT_SoVITS.models.sovits.synthesizer import SynthesizerTrn
from GPT_SoVITS.versions import (
    V1_SYMBOL_COUNT,
    V2_SYMBOL_COUNT,
    ModelVersion,
    spec,
    symbol_version_for_rows,
)

log = logging.getLogger(__name__)

# The official training default (s2.json train.segment_size, in samples) when a config has no train section.
DEFAULT_SEGMENT_SAMPLES = 20480
SUPPORTED_VERSIONS = (ModelVersion.V1, ModelVersion.V2, ModelVersion.V2PRO, ModelVersion.V2PROPLUS)


def _section(config: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = config.get(name)
    if not isinstance(value, Mapping):
        raise KeyError(f"SoVITS config has no '{name}' section")
    return value


def _sv_input_dim(version: str) -> int:
    """Width of the SV embedding a version's ``sv_emb`` takes (0: no SV branch)."""
    try:
        return spec(version).sv_input_dim
    except ValueError:  # an unknown version string: no SV branch, as the official is_v2pro test
        return 0


def encoder_sizes(model: Mapping[str, Any]) -> dict[str, Any]:
    """The content encoder's sizes from a config's ``model`` section (shared by every SoVITS version)."""
    return {
        "inter_channels": int(model["inter_channels"]),
        "hidden_channels": int(model["hidden_channels"]),
        "filter_channels": int(model["filter_channels"]),
        "n_heads": int(model["n_heads"]),
        "n_layers": int(model["n_layers"]),
        "kernel_size": int(model["kernel_size"]),
        "p_dropout": float(model["p_dropout"]),
    }


def build_sovits(
    config: Mapping[str, Any], with_enc_q: bool = True, sv_input_dim: int | None = None
) -> SynthesizerTrn:
    """A randomly initialised ``SynthesizerTrn`` shaped by a checkpoint config (``data`` + ``model``).

    The symbol table follows ``model.version`` ("v1": 322 phonemes, otherwise 732), as in the official code;
    "v2Pro"/"v2ProPlus" add the SV branch (``sv_input_dim`` wide, by default the version table's 20480).
    """
    data, model = _section(config, "data"), _section(config, "model")
    train = config.get("train") if isinstance(config.get("train"), Mapping) else {}
    version = str(model.get("version", config.get("version", "v2")))
    hop = int(data["hop_length"])
    try:
        return SynthesizerTrn(
            spec_channels=int(data["filter_length"]) // 2 + 1,
            segment_size=int(train.get("segment_size", DEFAULT_SEGMENT_SAMPLES)) // hop,
            **encoder_sizes(model),
            resblock=str(model["resblock"]),
            resblock_kernel_sizes=[int(k) for k in model["resblock_kernel_sizes"]],
            resblock_dilation_sizes=[[int(d) for d in ds] for ds in model["resblock_dilation_sizes"]],
            upsample_rates=[int(r) for r in model["upsample_rates"]],
            upsample_initial_channel=int(model["upsample_initial_channel"]),
            upsample_kernel_sizes=[int(k) for k in model["upsample_kernel_sizes"]],
            gin_channels=int(model.get("gin_channels", 0)),
            semantic_frame_rate=str(model.get("semantic_frame_rate", "25hz")),
            freeze_quantizer=bool(model.get("freeze_quantizer", False)),
            version=version,
            n_symbols=V1_SYMBOL_COUNT if version == "v1" else V2_SYMBOL_COUNT,
            with_enc_q=with_enc_q,
            sv_input_dim=_sv_input_dim(version) if sv_input_dim is None else sv_input_dim,
        )
    except KeyError as e:
        raise KeyError(f"SoVITS config is missing field {e.args[0]!r}") from e


def _inference_config(ckpt: Checkpoint) -> dict[str, Any]:
    """The config as the official loader uses it: 25 Hz semantics, version from the embedding rows
    (v1/v2) or from the detection (v2Pro/v2ProPlus, whose SV branch depends on it)."""
    config = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in ckpt.config.items()}
    if not isinstance(config.get("model"), dict) or not isinstance(config.get("data"), dict):
        raise CheckpointError(ckpt.path, "config has no 'model'/'data' sections")
    config["model"]["semantic_frame_rate"] = "25hz"
    emb = ckpt.weight.get(SOVITS_EMBEDDING_KEY)
    if emb is None:
        raise CheckpointError(ckpt.path, f"no {SOVITS_EMBEDDING_KEY} in the weights")
    rows_version = symbol_version_for_rows(emb.shape[0])
    config["model"]["version"] = ckpt.version.value if spec(ckpt.version).has_sv_embedding else rows_version
    return config


def load_sovits_model(
    ckpt: Checkpoint | str | os.PathLike, device: str | torch.device = "cpu", with_enc_q: bool = False
) -> SynthesizerTrn:
    """Official SoVITS weights (v1/v2/v2Pro/v2ProPlus) -> ``SynthesizerTrn`` in eval mode, float32.

    Loading is strict except for the training-only posterior encoder ``enc_q.*``: exported weights lack
    it (left at its init when ``with_enc_q``); pretrained files (s2G*.pth) hold it (ignored unless
    ``with_enc_q``).
    """
    if not isinstance(ckpt, Checkpoint):
        ckpt = load_sovits(ckpt)
    if ckpt.version not in SUPPORTED_VERSIONS:
        raise CheckpointError(
            ckpt.path, f"SoVITS {ckpt.version.value} weights need a model this toolkit lacks"
        )
    config = _inference_config(ckpt)
    sv = ckpt.weight.get(SV_EMB_KEY)
    if spec(ckpt.version).has_sv_embedding and sv is None:
        raise CheckpointError(ckpt.path, f"{ckpt.version.value} weights without {SV_EMB_KEY}")
    model = build_sovits(
        config, with_enc_q=with_enc_q, sv_input_dim=int(sv.shape[1]) if sv is not None else 0
    )
    weight = {k: v.float() for k, v in ckpt.weight.items() if with_enc_q or not k.startswith("enc_q.")}
    try:
        result = model.load_state_dict(weight, strict=False)
    except RuntimeError as e:  # a tensor of another shape than the config builds (edited or foreign file)
        raise CheckpointError(ckpt.path, f"weights do not fit the SoVITS model: {e}") from e
    missing = [k for k in result.missing_keys if not k.startswith("enc_q.")]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            ckpt.path,
            f"weights do not fit the SoVITS model: missing {missing[:5]} ({len(missing)}), "
            f"unexpected {result.unexpected_keys[:5]} ({len(result.unexpected_keys)})",
        )
    if result.missing_keys:
        log.info("%s: no enc_q in the file (training-only posterior encoder), left at its init", ckpt.path)
    return model.to(device).eval()
