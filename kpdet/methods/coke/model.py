"""CoKe's feature extractor Φ: backbone → upsampling neck → 1×1 reduction to D → L2 norm (Fig. 2)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from kpdet.errors import ConfigError
from kpdet.nn.backbones import Backbone
from kpdet.nn.upsample_neck import UpsampleNeck


class FeatureExtractor(nn.Module):
    """images (B, 3, H, W) in [0, 1] → {"features": (B, D, H/s, W/s)} with unit-length vectors."""

    def __init__(self, backbone: str, weights: str | None, neck: str, width: int, stride: int, dim: int,
                 mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.backbone = Backbone(backbone, tuple(range(-1, -6, -1)), weights=weights)
        reductions = self.backbone.reductions
        if stride < min(reductions) or stride > max(reductions):
            raise ConfigError(f"method.feature_stride {stride}: backbone {backbone} has feature strides "
                              f"{reductions}; choose one between {min(reductions)} and {max(reductions)}")
        try:
            self.neck = UpsampleNeck(self.backbone.channels, reductions, stride, width, neck)
        except ValueError as e:
            raise ConfigError(f"method.feature_stride / method.neck: {e}") from None
        self.reduce = nn.Conv2d(self.neck.out_channels, dim, kernel_size=1)  # dimensionality reduction
        self.stride = stride
        self.max_reduction = max(reductions)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images - self.mean) / self.std
        features = self.reduce(self.neck(self.backbone(x)))  # (B, D, H/s, W/s)
        return {"features": F.normalize(features.float(), dim=1)}
