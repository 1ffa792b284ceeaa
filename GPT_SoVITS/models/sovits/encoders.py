"""Prior (content + text) encoder ``enc_p`` with MRTE, and the posterior spectrogram encoder ``enc_q``."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from GPT_SoVITS.models.sovits.attentions import Encoder, MultiHeadAttention
from GPT_SoVITS.models.sovits.commons import length_mask
from GPT_SoVITS.models.sovits.modules import WN

SSL_DIM = 768  # width of the HuBERT features / quantized semantic vectors


class MRTE(nn.Module):
    """Multi-reference timbre encoder: content frames attend to the phoneme sequence, then the global
    style vector is added. Sizes are fixed in the official class (192 in/out, 512 inside, 4 heads)."""

    def __init__(
        self,
        content_enc_channels: int = 192,
        hidden_size: int = 512,
        out_channels: int = 192,
        n_heads: int = 4,
    ) -> None:
        super().__init__()
        self.cross_attention = MultiHeadAttention(hidden_size, hidden_size, n_heads)
        self.c_pre = nn.Conv1d(content_enc_channels, hidden_size, 1)
        self.text_pre = nn.Conv1d(content_enc_channels, hidden_size, 1)
        self.c_post = nn.Conv1d(hidden_size, out_channels, 1)

    def forward(
        self,
        ssl_enc: torch.Tensor,
        ssl_mask: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        ge: torch.Tensor | None,
    ) -> torch.Tensor:
        """ssl_enc [B, 192, T], text [B, 192, N], ge [B, 512, 1] or None -> [B, 192, T]."""
        attn_mask = text_mask.unsqueeze(2) * ssl_mask.unsqueeze(-1)  # [B, 1, T, N]
        ssl_enc = self.c_pre(ssl_enc * ssl_mask)
        text_enc = self.text_pre(text * text_mask)
        x = self.cross_attention(ssl_enc * ssl_mask, text_enc * text_mask, attn_mask) + ssl_enc
        if ge is not None:
            x = x + ge
        return self.c_post(x * ssl_mask)


class TextEncoder(nn.Module):
    """Content encoder: SSL projection + transformer, phoneme transformer, MRTE fusion, transformer,
    then the prior statistics (mean, log-std) of the latent."""

    def __init__(
        self,
        out_channels: int,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        p_dropout: float,
        n_symbols: int,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.ssl_proj = nn.Conv1d(SSL_DIM, hidden_channels, 1)
        self.encoder_ssl = Encoder(
            hidden_channels, filter_channels, n_heads, n_layers // 2, kernel_size, p_dropout
        )
        self.encoder_text = Encoder(
            hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout
        )
        self.text_embedding = nn.Embedding(n_symbols, hidden_channels)
        self.mrte = MRTE()
        self.encoder2 = Encoder(
            hidden_channels, filter_channels, n_heads, n_layers // 2, kernel_size, p_dropout
        )
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(
        self,
        y: torch.Tensor,
        y_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        ge: torch.Tensor | None,
        speed: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """y [B, 768, T] (50 Hz quantized features), text [B, N] ids, ge [B, gin, 1].

        Returns x [B, hidden, T'], m_p, logs_p [B, out, T'], y_mask [B, 1, T'] where T' = T at speed 1,
        else int(T / speed) + 1 (linear interpolation; ``speed`` must be a Python float, i.e. float64).
        """
        y_mask = length_mask(y_lengths, y.size(2), y.dtype)
        y = self.ssl_proj(y * y_mask) * y_mask
        y = self.encoder_ssl(y * y_mask, y_mask)
        text_mask = length_mask(text_lengths, text.size(1), y.dtype)
        text_h = self.encoder_text(self.text_embedding(text).transpose(1, 2) * text_mask, text_mask)
        y = self.mrte(y, y_mask, text_h, text_mask, ge)
        y = self.encoder2(y * y_mask, y_mask)
        if speed != 1:
            y = F.interpolate(y, size=int(y.shape[-1] / speed) + 1, mode="linear")
            y_mask = F.interpolate(y_mask, size=y.shape[-1], mode="nearest")
        stats = self.proj(y) * y_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return y, m, logs, y_mask


class PosteriorEncoder(nn.Module):
    """Linear spectrogram -> WN -> posterior (z, mean, log-std); used in training only (``enc_q``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
        gin_channels: int = 0,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.pre = nn.Conv1d(in_channels, hidden_channels, 1)
        self.enc = WN(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels=gin_channels)
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(
        self, x: torch.Tensor, x_lengths: torch.Tensor, g: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [B, spec_channels, T] -> z, m, logs [B, out, T], x_mask [B, 1, T]."""
        if g is not None:
            g = g.detach()  # the style vector is trained through the prior path, not through enc_q
        x_mask = length_mask(x_lengths, x.size(2), x.dtype)
        h = self.enc(self.pre(x) * x_mask, x_mask, g=g)
        stats = self.proj(h) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        z = (m + torch.randn_like(m) * torch.exp(logs)) * x_mask
        return z, m, logs, x_mask
