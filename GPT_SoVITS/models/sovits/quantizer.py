"""Residual vector quantizer of the semantic tokens (EnCodec style, EMA codebooks, k-means init).

SoVITS uses one quantizer layer with a 1024-entry codebook over 768-dim projected SSL features. Buffers
(``inited``, ``cluster_size``, ``embed``, ``embed_avg``) live under ``vq.layers.<i>._codebook`` as in the
official checkpoints.
"""

from __future__ import annotations

import logging

import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)


def _sample_vectors(samples: torch.Tensor, num: int) -> torch.Tensor:
    n = samples.shape[0]
    if n >= num:
        idx = torch.randperm(n, device=samples.device)[:num]
    else:
        idx = torch.randint(0, n, (num,), device=samples.device)
    return samples[idx]


def _kmeans(samples: torch.Tensor, num_clusters: int, num_iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on at most 500 samples [N, D]; returns (means [K, D], counts [K])."""
    samples = samples[:500]
    means = _sample_vectors(samples, num_clusters)
    counts = torch.zeros(num_clusters, dtype=torch.long, device=samples.device)
    for _ in range(num_iters):
        dists = -((samples[:, None, :] - means[None, :, :]) ** 2).sum(dim=-1)
        buckets = dists.max(dim=-1).indices
        counts = torch.bincount(buckets, minlength=num_clusters)
        empty = counts == 0
        new_means = torch.zeros_like(means).index_add_(0, buckets, samples)
        new_means = new_means / counts.masked_fill(empty, 1)[:, None]
        means = torch.where(empty[:, None], means, new_means)
    return means, counts


class EuclideanCodebook(nn.Module):
    """Nearest-neighbour codebook updated by exponential moving averages during training."""

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        kmeans_init: bool = True,
        kmeans_iters: int = 50,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        threshold_ema_dead_code: int = 2,
    ) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.kmeans_iters = kmeans_iters
        self.decay = decay
        self.epsilon = epsilon
        self.threshold_ema_dead_code = threshold_ema_dead_code
        embed = (
            torch.zeros(codebook_size, dim)
            if kmeans_init
            else nn.init.kaiming_uniform_(torch.empty(codebook_size, dim))
        )
        self.register_buffer("inited", torch.Tensor([not kmeans_init]))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of x [N, D] (the official distance expression)."""
        embed = self.embed.t()
        dist = -(x.pow(2).sum(1, keepdim=True) - 2 * x @ embed + embed.pow(2).sum(0, keepdim=True))
        return dist.max(dim=-1).indices

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., D] -> indices [...]."""
        return self.quantize(x.reshape(-1, x.shape[-1])).view(*x.shape[:-1])

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        return F.embedding(indices, self.embed)

    def _init_embed(self, flat: torch.Tensor) -> None:
        if bool(self.inited):
            return
        log.info("initialising the codebook with k-means on %d vectors", min(len(flat), 500))
        embed, counts = _kmeans(flat, self.codebook_size, self.kmeans_iters)
        self.embed.data.copy_(embed)
        self.embed_avg.data.copy_(embed)
        self.cluster_size.data.copy_(counts)
        self.inited.data.fill_(1.0)

    def _expire_codes(self, flat: torch.Tensor) -> None:
        if self.threshold_ema_dead_code == 0:
            return
        expired = self.cluster_size < self.threshold_ema_dead_code
        if torch.any(expired):
            replacement = _sample_vectors(flat, self.codebook_size)
            self.embed.data.copy_(torch.where(expired[:, None], replacement, self.embed))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, T, D] -> (quantized [B, T, D], indices [B, T]); EMA update in training mode."""
        flat = x.reshape(-1, x.shape[-1])
        self._init_embed(flat)
        indices = self.quantize(flat)
        quantized = self.decode(indices.view(*x.shape[:-1]))
        if self.training:
            with torch.no_grad():
                self._expire_codes(flat)
                onehot = F.one_hot(indices, self.codebook_size).type(x.dtype)
                self.cluster_size.data.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
                self.embed_avg.data.mul_(self.decay).add_((flat.t() @ onehot).t(), alpha=1 - self.decay)
                total = self.cluster_size.sum()
                smoothed = (
                    (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
                )
                self.embed.data.copy_(self.embed_avg / smoothed.unsqueeze(1))
        return quantized, indices.view(*x.shape[:-1])


class VectorQuantization(nn.Module):
    """One quantizer layer on channels-first input [B, D, T]; straight-through gradient in training."""

    def __init__(
        self, dim: int, codebook_size: int, commitment_weight: float = 1.0, **codebook_kw: object
    ) -> None:
        super().__init__()
        self.commitment_weight = commitment_weight
        self._codebook = EuclideanCodebook(dim, codebook_size, **codebook_kw)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._codebook.encode(x.transpose(1, 2))

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        return self._codebook.decode(indices).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = x.transpose(1, 2)  # [B, T, D]
        quantized, indices = self._codebook(x)
        loss = torch.zeros(1, device=x.device, requires_grad=self.training)
        if self.training:
            quantized = x + (quantized - x).detach()
            if self.commitment_weight > 0:
                loss = loss + F.mse_loss(quantized.detach(), x) * self.commitment_weight
        return quantized.transpose(1, 2), indices, loss


class ResidualVectorQuantization(nn.Module):
    def __init__(self, num_quantizers: int, **kwargs: object) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VectorQuantization(**kwargs) for _ in range(num_quantizers))


class ResidualVectorQuantizer(nn.Module):
    """Residual VQ: each layer quantizes what the previous layers left over."""

    def __init__(
        self,
        dimension: int = 768,
        n_q: int = 1,
        bins: int = 1024,
        decay: float = 0.99,
        kmeans_init: bool = True,
        kmeans_iters: int = 50,
        threshold_ema_dead_code: int = 2,
    ) -> None:
        super().__init__()
        self.n_q = n_q
        self.vq = ResidualVectorQuantization(
            num_quantizers=n_q,
            dim=dimension,
            codebook_size=bins,
            decay=decay,
            kmeans_init=kmeans_init,
            kmeans_iters=kmeans_iters,
            threshold_ema_dead_code=threshold_ema_dead_code,
        )

    def forward(
        self, x: torch.Tensor, n_q: int | None = None, layers: list[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """x [B, D, T] -> (quantized [B, D, T], codes [n_q, B, T], mean commit loss, per-layer outputs
        for the indices in ``layers``)."""
        n_q = n_q or self.n_q
        if layers and max(layers) >= n_q:
            raise ValueError(f"layer index {max(layers)} out of range for {n_q} quantizers")
        quantized_out: torch.Tensor | float = 0.0
        residual = x
        codes, losses, selected = [], [], []
        for i, layer in enumerate(self.vq.layers[:n_q]):
            quantized, indices, loss = layer(residual)
            residual = residual - quantized
            quantized_out = quantized_out + quantized
            codes.append(indices)
            losses.append(loss)
            if layers and i in layers:
                selected.append(quantized)
        return quantized_out, torch.stack(codes), torch.mean(torch.stack(losses)), selected

    def encode(self, x: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """x [B, D, T] -> codes [n_q, B, T]."""
        residual, codes = x, []
        for layer in self.vq.layers[: n_q or self.n_q]:
            indices = layer.encode(residual)
            residual = residual - layer.decode(indices)
            codes.append(indices)
        return torch.stack(codes)

    def decode(self, codes: torch.Tensor, st: int = 0) -> torch.Tensor:
        """codes [n_q, B, T] -> summed dequantized vectors [B, D, T]."""
        out = torch.tensor(0.0, device=codes.device)
        for i, indices in enumerate(codes):
            out = out + self.vq.layers[st + i].decode(indices)
        return out
