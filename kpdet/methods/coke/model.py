"""CoKe's feature extractor Φ (Fig. 2): a trunk → 1×1 reduction to D → L2 normalisation.

Two trunks, the paper's three extractors (Table 1): a timm backbone + upsampling neck
("add": ResNet-50 + upsampling, "concat": Res-UNet), or a stacked hourglass (Newell et al.).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from kpdet.errors import ConfigError
from kpdet.methods.coke.config import CokeConfig
from kpdet.nn.backbones import Backbone
from kpdet.nn.hourglass import Hourglass, Residual, Stem, conv_bn_relu
from kpdet.nn.upsample_neck import UpsampleNeck


class FeatureExtractor(nn.Module):
    """images (B, 3, H, W) in [0, 1] → {"features": (B, D, H/s, W/s)} with unit-length vectors.

    A subclass builds its trunk, sets ``stride`` (s), ``max_reduction`` (the side divisor it
    needs) and calls ``_reduce_to(trunk channels, D)``."""

    stride: int
    max_reduction: int

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def _reduce_to(self, channels: int, dim: int) -> None:
        self.reduce = nn.Conv2d(channels, dim, kernel_size=1)  # dimensionality reduction

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images - self.mean) / self.std
        features = self.reduce(self.trunk(x))  # (B, D, H/s, W/s)
        return {"features": F.normalize(features.float(), dim=1)}


class BackboneExtractor(FeatureExtractor):
    """timm backbone (all levels) → upsampling neck to stride s."""

    def __init__(self, backbone: str, weights: str | None, neck: str, width: int, stride: int, dim: int,
                 mean: Sequence[float], std: Sequence[float]):
        super().__init__(mean, std)
        self.backbone = Backbone(backbone, tuple(range(-1, -6, -1)), weights=weights)
        reductions = self.backbone.reductions
        if stride < min(reductions) or stride > max(reductions):
            raise ConfigError(f"method.feature_stride {stride}: backbone {backbone} has feature strides "
                              f"{reductions}; choose one between {min(reductions)} and {max(reductions)}")
        try:
            self.neck = UpsampleNeck(self.backbone.channels, reductions, stride, width, neck)
        except ValueError as e:
            raise ConfigError(f"method.feature_stride / method.neck: {e}") from None
        self._reduce_to(self.neck.out_channels, dim)
        self.stride = stride
        self.max_reduction = max(reductions)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck(self.backbone(x))  # (B, width, H/s, W/s)


class HourglassExtractor(FeatureExtractor):
    """Stem to stride s, then ``stacks`` hourglasses; the last stack's features are Φ.

    Between stacks, Newell et al.'s re-injection x ← x + 1×1(features) keeps its feature path;
    its heatmap path has no counterpart here: CoKe's loss is on the last features only."""

    def __init__(self, stacks: int, depth: int, channels: int, stride: int, dim: int,
                 mean: Sequence[float], std: Sequence[float]):
        super().__init__(mean, std)
        try:
            self.stem = Stem(channels, stride)
        except ValueError as e:
            raise ConfigError(f"method.feature_stride with method.extractor 'hourglass': {e}") from None
        self.stacks = nn.ModuleList(
            nn.Sequential(Hourglass(depth, channels), Residual(channels, channels), conv_bn_relu(channels, channels))
            for _ in range(stacks))
        self.merges = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(stacks - 1))
        self._reduce_to(channels, dim)
        self.stride = stride
        self.max_reduction = stride * 2**depth

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (B, C, H/s, W/s)
        for i, stack in enumerate(self.stacks):
            f = stack(x)
            if i < len(self.merges):
                x = x + self.merges[i](f)
        return f


def build_extractor(cfg: CokeConfig) -> FeatureExtractor:
    """Φ named by ``cfg.extractor``."""
    if cfg.extractor == "hourglass":
        h = cfg.hourglass
        return HourglassExtractor(h.stacks, h.depth, h.channels, cfg.feature_stride, cfg.feature_dim,
                                  cfg.image_mean, cfg.image_std)
    return BackboneExtractor(cfg.backbone, cfg.backbone_weights, cfg.neck, cfg.neck_channels, cfg.feature_stride,
                             cfg.feature_dim, cfg.image_mean, cfg.image_std)
