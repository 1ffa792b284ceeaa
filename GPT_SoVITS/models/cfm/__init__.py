"""v3/v4 acoustic model: conditional flow matching with a DiT velocity estimator."""

from GPT_SoVITS.models.cfm.cfm import CFM
from GPT_SoVITS.models.cfm.dit import DiT, DiTConfig

__all__ = ["CFM", "DiT", "DiTConfig"]
