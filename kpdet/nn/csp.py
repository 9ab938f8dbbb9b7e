"""YOLOv5-style cross-stage-partial building blocks (Conv-BN-SiLU, Bottleneck, C3, SPP, Focus).

Channel widths are scaled by a width multiple and rounded up to a multiple of 8
(:func:`scale_width`); repeat counts by a depth multiple (:func:`scale_depth`), the way the
YOLOv5 family builds its S/M/L sizes from one layout.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def scale_width(channels: int, width_multiple: float, divisor: int = 8) -> int:
    return int(math.ceil(channels * width_multiple / divisor) * divisor)


def scale_depth(repeats: int, depth_multiple: float) -> int:
    return max(round(repeats * depth_multiple), 1) if repeats > 1 else repeats


class ConvBnAct(nn.Module):
    """k×k convolution (same padding) → BatchNorm → SiLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """1×1 → 3×3 with an identity shortcut when shapes allow."""

    def __init__(self, c_in: int, c_out: int, shortcut: bool = True, expansion: float = 1.0):
        super().__init__()
        hidden = int(c_out * expansion)
        self.cv1 = ConvBnAct(c_in, hidden, 1)
        self.cv2 = ConvBnAct(hidden, c_out, 3)
        self.add = shortcut and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP bottleneck with three convolutions: half the channels go through ``n`` bottlenecks,
    the other half bypass them; both are concatenated and mixed by a 1×1 convolution."""

    def __init__(self, c_in: int, c_out: int, n: int = 1, shortcut: bool = True):
        super().__init__()
        hidden = c_out // 2
        self.cv1 = ConvBnAct(c_in, hidden, 1)
        self.cv2 = ConvBnAct(c_in, hidden, 1)
        self.cv3 = ConvBnAct(2 * hidden, c_out, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut) for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], dim=1))


class SPP(nn.Module):
    """Spatial pyramid pooling: stride-1 max pools of several kernel sizes, concatenated."""

    def __init__(self, c_in: int, c_out: int, kernels: tuple[int, ...] = (3, 5, 7)):
        super().__init__()
        hidden = c_in // 2
        self.cv1 = ConvBnAct(c_in, hidden, 1)
        self.cv2 = ConvBnAct(hidden * (len(kernels) + 1), c_out, 1)
        self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        return self.cv2(torch.cat([x, *(p(x) for p in self.pools)], dim=1))


class Focus(nn.Module):
    """Space-to-depth (2×2 pixel blocks → 4× channels) then a convolution: stride 2 without loss."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3):
        super().__init__()
        self.conv = ConvBnAct(4 * c_in, c_out, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) → (B, c_out, H/2, W/2)
        return self.conv(torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1))
