"""Upsampling necks that bring a multi-level backbone back to a fine output stride.

``mode="add"``: "ResNet + upsampling" (FPN-style top-down path): the deepest level goes
through a 1×1 lateral, then repeatedly ×2 bilinear upsampling + the 1×1 lateral of the
backbone level at that stride (when there is one) → 3×3 conv-BN-ReLU.

``mode="concat"``: Res-UNet decoder (Zhang et al. 2018, "Road extraction by deep residual
U-Net"): ×2 upsampling, concatenation with the skip level, then a residual block of two
3×3 conv-BN(-ReLU) with a 1×1 projection shortcut.

Both stop at ``out_stride``; past the shallowest backbone level they keep upsampling
without a skip. Output: (B, width, H/out_stride, W/out_stride).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(cin: int, cout: int, k: int, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout, 3), _conv_bn(cout, cout, 3, relu=False))
        self.skip = nn.Identity() if cin == cout else _conv_bn(cin, cout, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x))


class UpsampleNeck(nn.Module):
    def __init__(self, channels: Sequence[int], reductions: Sequence[int], out_stride: int, width: int,
                 mode: Literal["add", "concat"] = "add"):
        super().__init__()
        if mode not in ("add", "concat"):
            raise ValueError(f"neck mode must be 'add' or 'concat', got {mode!r}")
        deepest = max(reductions)
        if out_stride > deepest or deepest % out_stride or (deepest // out_stride) & (deepest // out_stride - 1):
            raise ValueError(f"out_stride {out_stride} must be the deepest stride {deepest} divided by a power of 2")
        self.mode = mode
        self.level_of = {int(r): i for i, r in enumerate(reductions)}  # stride → backbone level index
        self.deep_index = self.level_of[deepest]
        self.strides: list[int] = []
        r = deepest
        while r > out_stride:
            r //= 2
            self.strides.append(r)
        c_deep = channels[self.deep_index]
        if mode == "add":
            self.lateral_deep = nn.Conv2d(c_deep, width, 1)
            self.laterals = nn.ModuleDict({str(s): nn.Conv2d(channels[self.level_of[s]], width, 1)
                                           for s in self.strides if s in self.level_of})
            self.blocks = nn.ModuleList(_conv_bn(width, width, 3) for _ in self.strides)
            self.out_channels = width
        else:
            self.lateral_deep = nn.Identity()
            self.laterals = nn.ModuleDict()
            blocks, cin = [], c_deep
            for s in self.strides:
                skip = channels[self.level_of[s]] if s in self.level_of else 0
                blocks.append(ResidualBlock(cin + skip, width))
                cin = width
            self.blocks = nn.ModuleList(blocks)
            self.out_channels = cin

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """features: one map per backbone level (in ``reductions`` order) → (B, width, H/s, W/s)."""
        x = self.lateral_deep(features[self.deep_index])
        for s, block in zip(self.strides, self.blocks):
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            skip = features[self.level_of[s]] if s in self.level_of else None
            if skip is not None and x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            if skip is not None:
                x = x + self.laterals[str(s)](skip) if self.mode == "add" else torch.cat([x, skip], dim=1)
            x = block(x)
        return x
