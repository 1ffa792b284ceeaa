"""Speaker-verification embedding of a 16 kHz reference (v2Pro/v2ProPlus), as the official ``sv.SV``:
80-bin Kaldi fbank per clip -> ERes2NetV2 ``forward3`` -> [batch, 20480] (released model).

The model file (``pretrained_models/sv/pretrained_eres2netv2w24s4ep4.ckpt``) is a plain state dict; it is
read with ``weights_only`` (no code runs), its sizes are taken from the tensors, and it loads strictly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from GPT_SoVITS.errors import UserError
from GPT_SoVITS.features.fbank import kaldi_fbank
from GPT_SoVITS.models.sv import ERes2NetV2, Eres2NetV2Config
from GPT_SoVITS.versions import SV_MODEL_FILE

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # Hz: the SV model's input rate
NUM_MEL_BINS = 80
DOWNLOAD_HINT = (
    f"download it from the official GPT-SoVITS release (lj1995/GPT-SoVITS on Hugging Face, {SV_MODEL_FILE}) "
    f"and put it at pretrained_models/{SV_MODEL_FILE}"
)


class SpeakerEncoderError(UserError):
    """The SV model file is missing or not an ERes2NetV2 state dict; the message names the file."""


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise SpeakerEncoderError(
            f"{path}: SV model missing (v2Pro/v2ProPlus need it); {DOWNLOAD_HINT}", "sv_model"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for non-torch or unsafe files
        raise SpeakerEncoderError(
            f"{path}: not a readable SV model state dict ({type(e).__name__}: {e})"
        ) from e
    if isinstance(obj, Mapping) and "weight" in obj and isinstance(obj["weight"], Mapping):
        raise SpeakerEncoderError(
            f"{path}: this is a GPT/SoVITS weight file, not the SV model; {DOWNLOAD_HINT}"
        )
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise SpeakerEncoderError(f"{path}: not a state dict of tensors (expected the ERes2NetV2 SV model)")
    return dict(obj)


class SpeakerEncoder:
    """Loads the SV model once; ``embed`` is stateless and safe to call repeatedly."""

    def __init__(
        self, path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> None:
        self.path = Path(path)
        state = _read_state_dict(self.path)
        try:
            config = Eres2NetV2Config.from_state_dict(state)
        except (KeyError, IndexError, ZeroDivisionError) as e:
            raise SpeakerEncoderError(f"{self.path}: not an ERes2NetV2 SV model (lacks {e})") from e
        model = ERes2NetV2(config)
        try:
            model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        except RuntimeError as e:
            first = str(e).splitlines()[1:2] or [str(e)]
            raise SpeakerEncoderError(
                f"{self.path}: SV weights do not fit ERes2NetV2 ({first[0].strip()})"
            ) from e
        self.config = config
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.eval().to(device=self.device, dtype=dtype)
        log.info("SV model %s: m_channels %d, embedding %d", self.path, config.m_channels, self.embedding_dim)

    @property
    def embedding_dim(self) -> int:
        return self.config.embedding_dim

    def check_fits(self, sv_input_dim: int, sovits_path: str | Path) -> None:
        """Refuse an SV model whose embedding the SoVITS model's ``sv_emb`` cannot take."""
        if sv_input_dim != self.embedding_dim:
            raise SpeakerEncoderError(
                f"{self.path}: SV model gives {self.embedding_dim}-d embeddings but {sovits_path} expects "
                f"{sv_input_dim} (wrong SV model size; the released one is {SV_MODEL_FILE})",
                "sv_model",
            )

    @torch.inference_mode()
    def fbank(self, wav_16k: np.ndarray | torch.Tensor) -> torch.Tensor:
        """[N] or [B, N] 16 kHz audio -> fbank [B, frames, 80] (one fbank per clip, as the official)."""
        wav = (
            torch.as_tensor(np.asarray(wav_16k, dtype=np.float32))
            if isinstance(wav_16k, np.ndarray)
            else wav_16k
        )
        if wav.dim() == 1:
            wav = wav[None]
        if wav.dim() != 2:
            raise ValueError(f"wav_16k must be [N] or [B, N], got shape {tuple(wav.shape)}")
        wav = wav.to(device=self.device, dtype=self.dtype)
        return torch.stack([kaldi_fbank(clip, NUM_MEL_BINS, SAMPLE_RATE) for clip in wav])

    @torch.inference_mode()
    def embed(self, wav_16k: np.ndarray | torch.Tensor) -> torch.Tensor:
        """[N] or [B, N] 16 kHz audio -> float32 embedding [B, embedding_dim] on ``self.device``."""
        return self.model.forward3(self.fbank(wav_16k)).float()
