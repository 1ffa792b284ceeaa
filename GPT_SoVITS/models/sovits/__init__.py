"""SoVITS v1/v2 synthesizer: semantic codes + phonemes + reference spectrogram -> 32 kHz waveform.

Public API: ``SynthesizerTrn``, ``MultiPeriodDiscriminator``, ``build_sovits(config)``,
``load_sovits_model(ckpt | path, device)``; losses in ``GPT_SoVITS.models.sovits.losses``.
"""

from GPT_SoVITS.models.sovits.build import build_sovits, load_sovits_model
from GPT_SoVITS.models.sovits.discriminator import MultiPeriodDiscriminator
from GPT_SoVITS.models.sovits.synthesizer import SynthesizerTrn

__all__ = ["MultiPeriodDiscriminator", "SynthesizerTrn", "build_sovits", "load_sovits_model"]
