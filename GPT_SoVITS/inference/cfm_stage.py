"""The v3/v4 acoustic stage of the engine: CFM mel generation + vocoder, in place of the SoVITS decode.

Loading: a v3/v4 SoVITS file (a LoRA file is merged onto its base from ``pretrained_dir``) and the
version's vocoder. Rendering follows the official ``using_vocoder_synthesis``: it needs the prompt (the
reference's codes and transcript); ``sample_steps`` comes from the request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from GPT_SoVITS.checkpoints import Checkpoint
from GPT_SoVITS.models.sovits.commons import fold_weight_norms
from GPT_SoVITS.models.sovits.synthesizer_v3 import SynthesizerTrnV3
from GPT_SoVITS.models.v3v4.load import VocoderError, VocoderSpec, load_v3v4_sovits, load_vocoder
from GPT_SoVITS.models.v3v4.synthesis import synthesize
from GPT_SoVITS.versions import spec

# The official v3 pipeline can upsample its 24 kHz output to 48 kHz with an AP-BWE model; this toolkit
# has no such model, so the step stays off and the request is told so.
SUPER_SAMPLING_NOTE = (
    "super_sampling is off: the v3 audio super-resolution model (AP-BWE 24k->48k) is not available, "
    "the output stays at 24 kHz"
)
PROMPT_REQUIRED = (
    "v3/v4 models need the reference's transcript (prompt_text): they continue the reference's mel "
    "and cannot synthesise reference-free"
)


@dataclass(frozen=True)
class CFMStage:
    vocoder: nn.Module
    vspec: VocoderSpec
    mel_rate: int  # sample rate of the reference audio the mel prompt is computed from


def load_cfm_sovits(
    ckpt: Checkpoint, pretrained_dir: str | os.PathLike, device: torch.device, dtype: torch.dtype
) -> tuple[SynthesizerTrnV3, CFMStage]:
    """The v3/v4 model (LoRA merged) and its vocoder, both in eval mode on ``device`` in ``dtype``."""
    version = ckpt.version.value
    model = load_v3v4_sovits(ckpt, version, ckpt.is_lora, pretrained_dir=pretrained_dir)
    fold_weight_norms(model)  # inference only: the engine never saves this model
    try:
        vocoder, vspec = load_vocoder(version, pretrained_dir)
    except VocoderError as e:  # name the SoVITS file too: it is the one the user chose
        raise VocoderError(
            ckpt.path, f"this {version} model cannot synthesise without its vocoder ({e})"
        ) from e
    mel = spec(version).cfm_mel
    assert mel is not None  # every CFM version has its mel settings
    cast = {"device": device, "dtype": dtype}
    return model.to(**cast).eval(), CFMStage(vocoder.to(**cast).eval(), vspec, mel.sampling_rate)


@torch.inference_mode()
def render_cfm(
    model: SynthesizerTrnV3,
    stage: CFMStage,
    prompt_codes: torch.Tensor,
    prompt_ids: tuple[int, ...],
    refer_spec: torch.Tensor,
    mel_wav: torch.Tensor,
    tokens: list[int],
    ids: tuple[int, ...],
    speed: float,
    sample_steps: int,
    generator: torch.Generator,
) -> np.ndarray:
    """tokens (25 Hz) of one segment with its phoneme ids -> float32 audio at ``stage.vspec.sr``."""
    device = refer_spec.device
    codes = torch.tensor(tokens, dtype=torch.long, device=device)[None, None]
    audio = synthesize(
        model, stage.vocoder, stage.vspec,
        prompt_codes.to(device), torch.tensor(prompt_ids, dtype=torch.long, device=device),
        refer_spec, mel_wav.to(device), codes, torch.tensor(ids, dtype=torch.long, device=device)[None],
        sample_steps, speed, generator=generator,
    )  # fmt: skip
    return audio.float().cpu().numpy()
