"""The GPT text-to-semantic model: building, loading and decoding.

``build_gpt(config)`` makes a model from a checkpoint config (random weights); ``load_gpt_model(path or
Checkpoint)`` builds and strictly loads official weights. Decoding functions live in
``GPT_SoVITS.models.gpt.decode``.
"""

from GPT_SoVITS.models.gpt.load import build_gpt, load_gpt_model
from GPT_SoVITS.models.gpt.model import GPTDims, Text2SemanticDecoder

__all__ = ["GPTDims", "Text2SemanticDecoder", "build_gpt", "load_gpt_model"]
