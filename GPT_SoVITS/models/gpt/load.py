"""Building a GPT model from a config, and loading official weights into it (strictly)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch

from GPT_SoVITS.checkpoints import Checkpoint, CheckpointError, load_gpt, strip_gpt_prefix
from GPT_SoVITS.models.gpt.model import GPTDims, Text2SemanticDecoder

log = logging.getLogger(__name__)


def build_gpt(config: Mapping) -> Text2SemanticDecoder:
    """A randomly initialised model with the sizes of ``config["model"]`` (a checkpoint's config)."""
    return Text2SemanticDecoder(GPTDims.from_config(config))


def load_gpt_model(
    ckpt: Checkpoint | str | os.PathLike, device: str | torch.device = "cpu"
) -> Text2SemanticDecoder:
    """Build from the checkpoint config and load its weights strictly; float32, eval mode, on ``device``."""
    if not isinstance(ckpt, Checkpoint):
        ckpt = load_gpt(ckpt)
    try:
        model = build_gpt(ckpt.config)
    except (KeyError, ValueError) as e:
        raise CheckpointError(ckpt.path, f"unusable GPT config: {e}") from e
    weight = {k: v.float() for k, v in strip_gpt_prefix(ckpt.weight).items()}
    try:
        model.load_state_dict(weight, strict=True)
    except RuntimeError as e:
        raise CheckpointError(ckpt.path, f"weights do not fit the config: {e}") from e
    log.info("loaded GPT %s (%s, %d layers)", ckpt.path, ckpt.info, model.dims.num_layers)
    return model.to(device).eval()
