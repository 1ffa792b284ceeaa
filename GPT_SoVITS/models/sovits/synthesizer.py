"""SoVITS synthesizer ``SynthesizerTrn`` (v1/v2/v2Pro/v2ProPlus): codes + phonemes + reference -> waveform.

Attribute names equal the official ones, so ``state_dict()`` keys match official checkpoints:
``enc_p`` (content/text prior), ``ssl_proj`` + ``quantizer`` (semantic tokens), ``ref_enc`` (timbre),
``flow`` (coupling flow), ``dec`` (HiFi-GAN decoder), ``enc_q`` (posterior, training only).
v2Pro/v2ProPlus (``sv_input_dim`` > 0) add the speaker-verification branch: ``sv_emb`` (SV embedding ->
gin), ``prelu`` on the sum with the reference-encoder style, and ``ge_to512`` (gin -> MRTE's 512 channels).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from GPT_SoVITS.models.sovits.commons import length_mask, rand_slice_segments
from GPT_SoVITS.models.sovits.encoders import SSL_DIM, PosteriorEncoder, TextEncoder
from GPT_SoVITS.models.sovits.generator import Generator
from GPT_SoVITS.models.sovits.modules import ResidualCouplingBlock
from GPT_SoVITS.models.sovits.quantizer import ResidualVectorQuantizer
from GPT_SoVITS.models.sovits.style import MelStyleEncoder

# v2 and later feed only the lowest 704 of the 1025 spectrogram bins (0-11 kHz at 32 kHz) to ref_enc.
V2_REF_BINS = 704
CODEBOOK_SIZE = 1024
MRTE_CHANNELS = 512  # the style width MRTE adds to its output (hard-wired in the official code)


class SynthesizerTrn(nn.Module):
    def __init__(
        self,
        spec_channels: int,
        segment_size: int,
        inter_channels: int,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        p_dropout: float,
        resblock: str,
        resblock_kernel_sizes: Sequence[int],
        resblock_dilation_sizes: Sequence[Sequence[int]],
        upsample_rates: Sequence[int],
        upsample_initial_channel: int,
        upsample_kernel_sizes: Sequence[int],
        gin_channels: int = 0,
        semantic_frame_rate: str = "25hz",
        freeze_quantizer: bool = False,
        version: str = "v2",
        n_symbols: int = 732,
        with_enc_q: bool = True,
        sv_input_dim: int = 0,
    ) -> None:
        super().__init__()
        if semantic_frame_rate not in ("25hz", "50hz"):
            raise ValueError(f"semantic_frame_rate must be '25hz' or '50hz', got {semantic_frame_rate!r}")
        self.segment_size = segment_size
        self.version = version
        self.semantic_frame_rate = semantic_frame_rate
        self.freeze_quantizer = bool(freeze_quantizer)
        self.ref_bins = spec_channels if version == "v1" else V2_REF_BINS

        self.enc_p = TextEncoder(
            inter_channels,
            hidden_channels,
            filter_channels,
            n_heads,
            n_layers,
            kernel_size,
            p_dropout,
            n_symbols,
        )
        self.dec = Generator(
            inter_channels,
            resblock,
            resblock_kernel_sizes,
            resblock_dilation_sizes,
            upsample_rates,
            upsample_initial_channel,
            upsample_kernel_sizes,
            gin_channels=gin_channels,
        )
        if with_enc_q:
            self.enc_q = PosteriorEncoder(
                spec_channels, inter_channels, hidden_channels, 5, 1, 16, gin_channels
            )
        self.flow = ResidualCouplingBlock(inter_channels, hidden_channels, 5, 1, 4, gin_channels=gin_channels)
        self.ref_enc = MelStyleEncoder(self.ref_bins, style_vector_dim=gin_channels)
        if semantic_frame_rate == "25hz":  # two 50 Hz SSL frames per token
            self.ssl_proj = nn.Conv1d(SSL_DIM, SSL_DIM, 2, stride=2)
        else:
            self.ssl_proj = nn.Conv1d(SSL_DIM, SSL_DIM, 1, stride=1)
        self.quantizer = ResidualVectorQuantizer(dimension=SSL_DIM, n_q=1, bins=CODEBOOK_SIZE)
        self.sv_input_dim = int(sv_input_dim)
        if self.sv_input_dim:  # v2Pro/v2ProPlus
            self.sv_emb = nn.Linear(self.sv_input_dim, gin_channels)
            self.ge_to512 = nn.Linear(gin_channels, MRTE_CHANNELS)
            self.prelu = nn.PReLU(num_parameters=gin_channels)

    # -- pieces shared by training and inference -------------------------------------------------------
    def style(
        self, spec: torch.Tensor, lengths: torch.Tensor | None = None, sv: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reference spectrogram [B, 1025, F] (linear magnitude) -> style vector ge [B, gin, 1].

        v2Pro/v2ProPlus also take the reference's SV embedding sv [B, sv_input_dim]:
        ge = prelu(ref_enc(spec) + sv_emb(sv)).
        """
        if lengths is None:
            lengths = torch.full((spec.size(0),), spec.size(2), dtype=torch.long, device=spec.device)
        mask = length_mask(lengths, spec.size(2), spec.dtype)
        ge = self.ref_enc(spec[:, : self.ref_bins] * mask, mask)
        if not self.sv_input_dim:
            return ge
        if sv is None:
            raise ValueError("v2Pro/v2ProPlus models need the reference's SV embedding (sv)")
        return self.prelu(ge + self.sv_emb(sv.to(ge)).unsqueeze(-1))

    def text_style(self, ge: torch.Tensor | None) -> torch.Tensor | None:
        """The style MRTE receives: ge itself, or ge_to512(ge) [B, 512, 1] for v2Pro/v2ProPlus."""
        if ge is None or not self.sv_input_dim:
            return ge
        return self.ge_to512(ge.transpose(1, 2)).transpose(1, 2)

    def _upsample_codes(self, quantized: torch.Tensor) -> torch.Tensor:
        if self.semantic_frame_rate == "25hz":  # back to the 50 Hz frame rate of the spectrogram
            return F.interpolate(quantized, size=int(quantized.shape[-1] * 2), mode="nearest")
        return quantized

    # -- inference -----------------------------------------------------------------------------------
    @torch.no_grad()
    def extract_latent(self, ssl: torch.Tensor) -> torch.Tensor:
        """SSL features [B, 768, T] (50 Hz) -> semantic codes [B, n_q=1, T // 2] (official layout)."""
        _, codes, _, _ = self.quantizer(self.ssl_proj(ssl))
        return codes.transpose(0, 1)

    @torch.no_grad()
    def decode(
        self,
        codes: torch.Tensor,
        text: torch.Tensor,
        refer: torch.Tensor | Sequence[torch.Tensor] | None,
        noise_scale: float = 0.5,
        speed: float = 1.0,
        noise: torch.Tensor | None = None,
        sv_emb: torch.Tensor | Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """codes [n_q, B, T] long, text [B, N] long, refer [B, 1025, F] or a list of them (their style
        vectors are averaged) -> wav [B, 1, frames * hop].
        sv_emb: v2Pro/v2ProPlus only, the SV embedding of each reference (a list parallel to refer).

        speed: > 1 faster; frames become int(2T / speed) + 1 (pass a Python float, i.e. float64).
        noise: replaces the Gaussian draw ``randn_like(m_p)`` (seeded or recorded noise), [B, inter, T'].
        (``GPT_SoVITS.parity.hooks.sovits_decode_steps`` runs the same steps and keeps the intermediates.)
        """
        if refer is None:
            ge = None
        elif isinstance(refer, torch.Tensor):
            ge = self.style(refer, sv=sv_emb[0] if isinstance(sv_emb, (list, tuple)) else sv_emb)
        else:
            svs = list(sv_emb) if sv_emb is not None else [None] * len(refer)
            if len(svs) != len(refer):
                raise ValueError(f"{len(refer)} references but {len(svs)} SV embeddings")
            ge = torch.stack([self.style(r, sv=v) for r, v in zip(refer, svs, strict=True)], 0).mean(0)
        y_lengths = torch.tensor([codes.size(2) * 2], dtype=torch.long, device=codes.device)
        text_lengths = torch.tensor([text.size(-1)], dtype=torch.long, device=text.device)
        quantized = self._upsample_codes(self.quantizer.decode(codes))
        _x, m_p, logs_p, y_mask = self.enc_p(
            quantized, y_lengths, text, text_lengths, self.text_style(ge), speed
        )
        if noise is None:
            noise = torch.randn_like(m_p)
        elif noise.shape != m_p.shape:
            raise ValueError(f"noise shape {list(noise.shape)} != prior shape {list(m_p.shape)}")
        z_p = m_p + noise.to(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, g=ge, reverse=True)
        return self.dec(z * y_mask, g=ge)

    @torch.no_grad()
    def infer(
        self,
        ssl: torch.Tensor,
        spec: torch.Tensor,
        spec_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        noise_scale: float = 0.5,
        sv_emb: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """Resynthesis from SSL features (the official evaluation path of training): the reference is the
        utterance's own spectrogram. Returns (wav [B, 1, T * hop], y_mask, (z, z_p, m_p, logs_p))."""
        ge = self.style(spec, spec_lengths, sv_emb)
        quantized, _, _, _ = self.quantizer(self.ssl_proj(ssl), layers=[0])
        quantized = self._upsample_codes(quantized)
        _x, m_p, logs_p, y_mask = self.enc_p(quantized, spec_lengths, text, text_lengths, self.text_style(ge))
        z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, g=ge, reverse=True)
        return self.dec(z * y_mask, g=ge), y_mask, (z, z_p, m_p, logs_p)

    # -- training ------------------------------------------------------------------------------------
    def forward(
        self,
        ssl: torch.Tensor,
        spec: torch.Tensor,
        spec_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        sv_emb: torch.Tensor | None = None,
    ) -> tuple:
        """One training step's generator pass (official s2 ``net_g(ssl, spec, spec_lengths, text, ...)``).

        Returns (wav_slice [B, 1, segment*hop], commit_loss, slice_starts [B], y_mask, y_mask,
        (z, z_p, m_p, logs_p, m_q, logs_q), quantized).
        """
        if not hasattr(self, "enc_q"):
            raise RuntimeError("this model was built without enc_q; build with with_enc_q=True to train")
        ge = self.style(spec, spec_lengths, sv_emb)  # sv_emb [B, 20480]: v2Pro/v2ProPlus only
        frozen = self.freeze_quantizer
        grad = torch.no_grad() if frozen else contextlib.nullcontext()
        with torch.autocast(device_type=ssl.device.type, enabled=False), grad:
            if frozen:  # keep the codebook's EMA statistics fixed
                self.ssl_proj.eval()
                self.quantizer.eval()
            proj = self.ssl_proj(ssl)
            quantized, _codes, commit_loss, _ = self.quantizer(proj, layers=[0])
        quantized = self._upsample_codes(quantized)
        _x, m_p, logs_p, y_mask = self.enc_p(quantized, spec_lengths, text, text_lengths, self.text_style(ge))
        z, m_q, logs_q, y_mask = self.enc_q(spec, spec_lengths, g=ge)
        z_p = self.flow(z, y_mask, g=ge)
        z_slice, ids_slice = rand_slice_segments(z, spec_lengths, self.segment_size)
        wav = self.dec(z_slice, g=ge)
        return wav, commit_loss, ids_slice, y_mask, y_mask, (z, z_p, m_p, logs_p, m_q, logs_q), quantized
