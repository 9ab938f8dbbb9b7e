"""YOLOv5-P6 layout: a CSP-Darknet backbone down to stride 64 and a PAN neck with outputs at
strides 8, 16, 32, 64 (the network KAPAO builds on, ``yolov5{s,m,l}6``).

Base widths (at width multiple 1) are 64 → 128 → 256 → 512 → 768 → 1024 channels for strides
2 … 64, base C3 depths 3, 9, 9, 3, 3 in the backbone and 3 in every neck block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kpdet.nn.csp import C3, SPP, ConvBnAct, Focus, scale_depth, scale_width

BASE_WIDTHS = (64, 128, 256, 512, 768, 1024)  # strides 2, 4, 8, 16, 32, 64
BASE_DEPTHS = (3, 9, 9, 3, 3)  # C3 repeats after the stride-4 … stride-64 convolutions
STRIDES = (8, 16, 32, 64)


class CSPDarknetP6(nn.Module):
    """Backbone: returns the stride-8, 16 and 32 features and the SPP'd stride-64 feature."""

    def __init__(self, width_multiple: float, depth_multiple: float, in_channels: int = 3):
        super().__init__()
        w = [scale_width(c, width_multiple) for c in BASE_WIDTHS]
        d = [scale_depth(n, depth_multiple) for n in BASE_DEPTHS]
        self.widths = w
        self.stem = Focus(in_channels, w[0], 3)
        self.stage2 = nn.Sequential(ConvBnAct(w[0], w[1], 3, 2), C3(w[1], w[1], d[0]))
        self.stage3 = nn.Sequential(ConvBnAct(w[1], w[2], 3, 2), C3(w[2], w[2], d[1]))
        self.stage4 = nn.Sequential(ConvBnAct(w[2], w[3], 3, 2), C3(w[3], w[3], d[2]))
        self.stage5 = nn.Sequential(ConvBnAct(w[3], w[4], 3, 2), C3(w[4], w[4], d[3]))
        self.stage6 = nn.Sequential(ConvBnAct(w[4], w[5], 3, 2), SPP(w[5], w[5], (3, 5, 7)),
                                    C3(w[5], w[5], d[4], shortcut=False))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stage2(self.stem(x))
        p3 = self.stage3(x)  # (B, w2, H/8, W/8)
        p4 = self.stage4(p3)  # (B, w3, H/16, W/16)
        p5 = self.stage5(p4)  # (B, w4, H/32, W/32)
        p6 = self.stage6(p5)  # (B, w5, H/64, W/64)
        return [p3, p4, p5, p6]


class PANP6(nn.Module):
    """Top-down (FPN) then bottom-up (PAN) aggregation over the four backbone levels."""

    def __init__(self, widths: list[int], depth_multiple: float):
        super().__init__()
        _, _, c3, c4, c5, c6 = widths
        n = scale_depth(3, depth_multiple)
        self.lat6 = ConvBnAct(c6, c5, 1)
        self.td5 = C3(2 * c5, c5, n, shortcut=False)
        self.lat5 = ConvBnAct(c5, c4, 1)
        self.td4 = C3(2 * c4, c4, n, shortcut=False)
        self.lat4 = ConvBnAct(c4, c3, 1)
        self.out3 = C3(2 * c3, c3, n, shortcut=False)
        self.down3 = ConvBnAct(c3, c3, 3, 2)
        self.out4 = C3(2 * c3, c4, n, shortcut=False)
        self.down4 = ConvBnAct(c4, c4, 3, 2)
        self.out5 = C3(2 * c4, c5, n, shortcut=False)
        self.down5 = ConvBnAct(c5, c5, 3, 2)
        self.out6 = C3(2 * c5, c6, n, shortcut=False)
        self.out_channels = [c3, c4, c5, c6]

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        p3, p4, p5, p6 = feats
        l6 = self.lat6(p6)
        l5 = self.lat5(self.td5(torch.cat([_up(l6, p5), p5], 1)))
        l4 = self.lat4(self.td4(torch.cat([_up(l5, p4), p4], 1)))
        o3 = self.out3(torch.cat([_up(l4, p3), p3], 1))  # (B, c3, H/8, W/8)
        o4 = self.out4(torch.cat([self.down3(o3), l4], 1))  # (B, c4, H/16, W/16)
        o5 = self.out5(torch.cat([self.down4(o4), l5], 1))  # (B, c5, H/32, W/32)
        o6 = self.out6(torch.cat([self.down5(o5), l6], 1))  # (B, c6, H/64, W/64)
        return [o3, o4, o5, o6]


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="nearest")
