"""SimpleBaseline network: backbone → deconvolution head → 1×1 conv to one heatmap per channel."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from kpdet.errors import ConfigError
from kpdet.nn.backbones import Backbone
from kpdet.nn.deconv import DeconvHead


class TopDownNet(nn.Module):
    """images (B, 3, H, W) in [0, 1] → {"heatmaps": (B, C, H/stride, W/stride)}."""

    def __init__(self, backbone: Backbone, deconv_channels: Sequence[int], deconv_kernel: int, out_channels: int,
                 stride: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.backbone = backbone
        reduction = backbone.reductions[-1]
        ups = len(deconv_channels)
        if reduction != stride * 2**ups:
            need = math.log2(reduction / stride) if reduction >= stride else float("nan")
            raise ConfigError(f"backbone output stride {reduction} with {ups} deconvolution layer(s) gives "
                              f"heatmap stride {reduction / 2**ups:g}, expected {stride}"
                              + (f" (use {need:g} layers)" if need == int(need) else ""))
        self.head = DeconvHead(backbone.channels[-1], deconv_channels, deconv_kernel)
        self.final = nn.Conv2d(self.head.out_channels, out_channels, kernel_size=1)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images - self.mean) / self.std
        features = self.backbone(x)[-1]  # (B, C_b, H/r, W/r)
        return {"heatmaps": self.final(self.head(features))}
