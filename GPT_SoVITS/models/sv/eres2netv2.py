"""ERes2NetV2 speaker-verification network (3D-Speaker), as v2Pro/v2ProPlus use it.

Input: Kaldi fbank [B, T, 80]; the official SV path takes ``forward3``: the fused last feature map
(layer4 output + a strided conv of layer3, combined by attentional feature fusion) flattened over
channels x frequency rows and averaged over time -> [B, m_channels * 8 * expansion * (feat_dim / 8)]
(20480 for the released model). Attribute names equal the official ones, so the state dict loads
strictly; the pooling head (``seg_1``) is kept for that reason but unused by ``forward3``.
Every size is an argument; ``Eres2NetV2Config.from_state_dict`` reads them back from a checkpoint.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

RELU_CAP = 20.0  # the blocks use a ReLU clipped at 20 (Hardtanh(0, 20))


@dataclass(frozen=True)
class Eres2NetV2Config:
    m_channels: int = 64  # channels of the stem; stage k has m_channels * 2**k planes
    num_blocks: tuple[int, ...] = (3, 4, 6, 3)  # blocks per stage
    base_width: int = 24  # split width per block = floor(planes * base_width / 64)
    scale: int = 4  # number of splits per block
    expansion: int = 4  # block output = planes * expansion
    feat_dim: int = 80  # fbank bins
    embedding_size: int = 192  # rows of the (unused) seg_1 head

    @property
    def embedding_dim(self) -> int:
        """Width of the ``forward3`` output (20480 for the released model)."""
        return self.m_channels * 8 * self.expansion * (self.feat_dim // 8)

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor]) -> Eres2NetV2Config:
        """Sizes read from a state dict (KeyError names the first key a non-ERes2NetV2 dict lacks)."""
        m = int(sd["conv1.weight"].shape[0])
        width = int(sd["layer1.0.convs.0.weight"].shape[0])
        scale = len({k for k in sd if re.fullmatch(r"layer1\.0\.convs\.\d+\.weight", k)})
        expansion = int(sd["layer1.0.conv3.weight"].shape[0]) // m
        blocks = tuple(len({k.split(".")[1] for k in sd if k.startswith(f"layer{i}.")}) for i in range(1, 5))
        seg = sd["seg_1.weight"]
        stats = int(seg.shape[1]) // (2 * expansion)  # TSTP: mean and std of feat_dim/8 * m * 8 rows
        return cls(m, blocks, width * 64 // m, scale, expansion, stats // m, int(seg.shape[0]))


class _ClippedReLU(nn.Hardtanh):
    def __init__(self) -> None:
        super().__init__(0.0, RELU_CAP)


class AFF(nn.Module):
    """Attentional feature fusion: x * (1 + a) + y * (1 - a), a = tanh(local attention of [x; y])."""

    def __init__(self, channels: int, r: int = 4) -> None:
        super().__init__()
        inner = channels // r
        self.local_att = nn.Sequential(
            nn.Conv2d(channels * 2, inner, 1),
            nn.BatchNorm2d(inner),
            nn.SiLU(),
            nn.Conv2d(inner, channels, 1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        att = 1.0 + torch.tanh(self.local_att(torch.cat((x, y), dim=1)))
        return x * att + y * (2.0 - att)


class Block(nn.Module):
    """Res2Net-style block: split into ``scale`` parts, each part adds the previous part's output
    (plain sum in the first two stages, AFF in the last two) before its 3x3 conv."""

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int,
        base_width: int,
        scale: int,
        expansion: int,
        fuse: bool,
    ) -> None:
        super().__init__()
        width = math.floor(planes * (base_width / 64.0))
        self.width = width
        self.conv1 = nn.Conv2d(in_planes, width * scale, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1, bias=False) for _ in range(scale))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(scale))
        if fuse:
            self.fuse_models = nn.ModuleList(AFF(width, r=4) for _ in range(scale - 1))
        self.relu = _ClippedReLU()
        self.conv3 = nn.Conv2d(width * scale, planes * expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * expansion)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes * expansion:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes * expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * expansion),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(self.relu(self.bn1(self.conv1(x))), self.width, 1)
        outs = []
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            if i == 0:
                sp = parts[0]
            elif hasattr(self, "fuse_models"):
                sp = self.fuse_models[i - 1](sp, parts[i])
            else:
                sp = sp + parts[i]
            sp = self.relu(bn(conv(sp)))
            outs.append(sp)
        out = self.bn3(self.conv3(torch.cat(outs, 1)))
        return self.relu(out + self.shortcut(x))


class ERes2NetV2(nn.Module):
    def __init__(self, config: Eres2NetV2Config = Eres2NetV2Config()) -> None:
        super().__init__()
        self.config = c = config
        m = c.m_channels
        self.conv1 = nn.Conv2d(1, m, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m)
        in_planes = m
        for stage, (n, stride) in enumerate(zip(c.num_blocks, (1, 2, 2, 2), strict=True)):
            planes = m * 2**stage
            layer, in_planes = self._stage(in_planes, planes, n, stride, fuse=stage >= 2)
            setattr(self, f"layer{stage + 1}", layer)
        self.layer3_ds = nn.Conv2d(
            m * 4 * c.expansion, m * 8 * c.expansion, 3, padding=1, stride=2, bias=False
        )
        self.fuse34 = AFF(m * 8 * c.expansion, r=4)
        stats_dim = (c.feat_dim // 8) * m * 8 * c.expansion
        self.seg_1 = nn.Linear(stats_dim * 2, c.embedding_size)  # TSTP pooling head, unused by forward3

    def _stage(
        self, in_planes: int, planes: int, n: int, stride: int, fuse: bool
    ) -> tuple[nn.Sequential, int]:
        c = self.config
        blocks: list[nn.Module] = []
        for s in [stride] + [1] * (n - 1):
            blocks.append(Block(in_planes, planes, s, c.base_width, c.scale, c.expansion, fuse))
            in_planes = planes * c.expansion
        return nn.Sequential(*blocks), in_planes

    def forward3(self, feats: torch.Tensor) -> torch.Tensor:
        """fbank [B, T, feat_dim] -> embedding [B, embedding_dim] (time-averaged fused feature map)."""
        x = feats.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)
        out = F.relu(self.bn1(self.conv1(x)))
        out3 = self.layer3(self.layer2(self.layer1(out)))
        fused = self.fuse34(self.layer4(out3), self.layer3_ds(out3))  # (B, C, F/8, T/8)
        return fused.flatten(start_dim=1, end_dim=2).mean(-1)

    forward = forward3


def stage_sizes(config: Eres2NetV2Config) -> Sequence[int]:
    """Output channels of the four stages (for documentation and tests)."""
    return [config.m_channels * 2**k * config.expansion for k in range(4)]
