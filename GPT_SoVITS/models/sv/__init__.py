"""Speaker-verification network of v2Pro/v2ProPlus (ERes2NetV2)."""

from GPT_SoVITS.models.sv.eres2netv2 import ERes2NetV2, Eres2NetV2Config

__all__ = ["ERes2NetV2", "Eres2NetV2Config"]
