"""Vocoders of the v3/v4 models: BigVGAN (v3, 24 kHz) and the v4 HiFi-GAN generator (48 kHz)."""

from GPT_SoVITS.models.vocoder.bigvgan import BigVGAN, BigVGANConfig
from GPT_SoVITS.models.vocoder.hifigan_v4 import V4VocoderConfig, build_v4_vocoder

__all__ = ["BigVGAN", "BigVGANConfig", "V4VocoderConfig", "build_v4_vocoder"]
