"""SSL content features from a local ``chinese-hubert-base``-shaped folder (transformers ``HubertModel``).

The official pipeline (prepare stage and inference alike) feeds the raw 16 kHz waveform straight into
``HubertModel`` (no feature-extractor normalisation) and takes ``last_hidden_state``, transposed to
channels-first: [1, 768, frames] at 50 Hz (one frame per 320 input samples).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from GPT_SoVITS.errors import UserError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # Hz, the only rate the model was trained on
HOP_SAMPLES = 320  # input samples per output frame (conv strides 5*2*2*2*2*2*2): 50 frames per second


class HubertError(UserError):
    """The HuBERT folder cannot be loaded; the message names the folder."""


class HubertFeatureExtractor:
    """Loads the HuBERT folder once; ``features`` is safe to call repeatedly (no state between calls)."""

    def __init__(
        self, model_dir: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> None:
        from transformers import HubertModel

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise HubertError(f"{self.model_dir}: not a HuBERT folder (config.json is missing)")
        try:
            model = HubertModel.from_pretrained(str(self.model_dir), local_files_only=True)
        except (OSError, ValueError) as e:
            raise HubertError(f"{self.model_dir}: cannot load HuBERT weights: {e}") from e
        self.device = torch.device(device)
        self.dtype = dtype
        self.hidden_size = int(model.config.hidden_size)
        self.model = model.eval().to(device=self.device, dtype=dtype)
        log.info("HuBERT loaded from %s (hidden %d, %s, %s)", self.model_dir, self.hidden_size, device, dtype)

    @torch.inference_mode()
    def features(self, wav_16k: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Waveform [T] (float, 16 kHz, mono) -> float32 features [1, hidden, T // 320] on ``self.device``."""
        wav = (
            torch.as_tensor(np.asarray(wav_16k, dtype=np.float32))
            if isinstance(wav_16k, np.ndarray)
            else wav_16k
        )
        if wav.dim() != 1:
            raise ValueError(f"wav_16k must be one-dimensional [T], got shape {tuple(wav.shape)}")
        if wav.numel() < 400:  # the first conv needs one 400-sample receptive field
            raise ValueError(f"wav_16k is too short for HuBERT: {wav.numel()} samples (< 400)")
        x = wav.to(device=self.device, dtype=self.dtype)[None]  # (1, T)
        hidden = self.model(x).last_hidden_state  # (1, frames, hidden)
        return hidden.transpose(1, 2).float()  # (1, hidden, frames)
