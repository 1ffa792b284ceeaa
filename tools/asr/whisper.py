"""faster-whisper backend: a local CTranslate2 model folder, never a download."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Languages a .list line may carry; ``--language auto`` picks the most likely of these, so a line never
# gets a code the rest of the pipeline cannot use (base calls espeak's zh/ja "Thai").
AUTO_CANDIDATES = ("zh", "en", "ja", "ko", "yue")
PRECISIONS = ("int8", "float16", "float32")


def compute_type(precision: str, device: str) -> str:
    """CTranslate2 compute type for ``precision`` on ``device`` ("cpu" or "cuda")."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if device == "cpu" and precision == "float16":
        log.warning("float16 is not supported on CPU; using float32")
        return "float32"
    if device == "cuda" and precision == "int8":
        return "int8_float16"
    return precision


class WhisperTranscriber:
    """One loaded faster-whisper model; ``transcribe`` returns (text, language code)."""

    def __init__(
        self,
        folder: Path,
        device: str = "cpu",
        device_index: int = 0,
        precision: str = "int8",
        beam_size: int = 5,
        vad_filter: bool = True,
        threads: int = 0,
    ) -> None:
        from faster_whisper import WhisperModel

        if not (folder / "model.bin").is_file():
            raise FileNotFoundError(f"{folder / 'model.bin'} not found: not a faster-whisper model folder")
        self.model = WhisperModel(
            str(folder),
            device=device,
            device_index=device_index,
            compute_type=compute_type(precision, device),
            cpu_threads=threads or (os.cpu_count() or 1),
            local_files_only=True,
        )
        self.beam_size = beam_size
        self.vad_filter = vad_filter

    def detect(self, wav16k: np.ndarray) -> str:
        """The most likely language among AUTO_CANDIDATES."""
        _, _, probs = self.model.detect_language(audio=wav16k)
        allowed = [(p, lang) for lang, p in probs if lang in AUTO_CANDIDATES]
        return max(allowed)[1] if allowed else "en"

    def transcribe(self, wav16k: np.ndarray, language: str) -> tuple[str, str]:
        lang = self.detect(wav16k) if language == "auto" else language
        segments, _ = self.model.transcribe(
            wav16k, language=lang, beam_size=self.beam_size, vad_filter=self.vad_filter
        )
        return "".join(s.text for s in segments).strip(), lang
