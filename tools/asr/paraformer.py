"""FunASR backend (Paraformer and friends) from local model folders under ``pretrained_models/``.

FunASR is an optional extra; the folder must be a FunASR/ModelScope model folder (``config.yaml``,
``model.pt``, tokens and cmvn files), optionally with separate VAD and punctuation model folders.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# FunASR separates characters of Chinese output with spaces when no punctuation model joins them.
_CJK_GAP = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef]) +(?=[\u3000-\u9fff\uff00-\uffef])")


def _check_folder(folder: Path, what: str) -> str:
    if not (folder / "config.yaml").is_file():
        raise FileNotFoundError(f"{folder / 'config.yaml'} not found: not a FunASR {what} model folder")
    return str(folder)


class ParaformerTranscriber:
    """A FunASR ``AutoModel`` built from local folders only (``disable_update``, no hub names)."""

    def __init__(
        self,
        folder: Path,
        device: str = "cpu",
        vad_folder: Path | None = None,
        punc_folder: Path | None = None,
        language: str = "zh",
    ) -> None:
        kwargs: dict = {"model": _check_folder(folder, "ASR"), "device": device, "disable_update": True}
        if vad_folder is not None:
            kwargs["vad_model"] = _check_folder(vad_folder, "VAD")
        if punc_folder is not None:
            kwargs["punc_model"] = _check_folder(punc_folder, "punctuation")
        try:  # after the folder checks: importing funasr takes seconds
            from funasr import AutoModel
        except ImportError as e:
            raise RuntimeError(
                "the FunASR backend needs the optional package funasr (pip install funasr)"
            ) from e
        self.model = AutoModel(**kwargs, log_level="ERROR")
        self.language = language

    def transcribe(self, wav16k: np.ndarray, language: str) -> tuple[str, str]:
        results = self.model.generate(input=wav16k.astype(np.float32), disable_pbar=True)
        text = "".join(str(r.get("text", "")) for r in results)
        lang = self.language if language == "auto" else language
        return _CJK_GAP.sub("", text).strip(), lang
