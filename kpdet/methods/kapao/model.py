"""KAPAO network: CSP-Darknet-P6 backbone, PAN neck, one 1×1 detection conv per output grid."""

from __future__ import annotations

import math

import torch
from torch import nn

from kpdet.nn.csp_pan import STRIDES, CSPDarknetP6, PANP6


class KapaoHead(nn.Module):
    """Per grid s: (B, C_s, H/s, W/s) → (B, Na, H/s, W/s, No) raw logits."""

    def __init__(self, channels: list[int], num_anchors: int, num_outputs: int, num_classes: int,
                 reference_size: int):
        super().__init__()
        self.na, self.no = num_anchors, num_outputs
        self.convs = nn.ModuleList(nn.Conv2d(c, num_anchors * num_outputs, 1) for c in channels)
        with torch.no_grad():  # YOLOv5 prior: ~8 objects per image, class probability ~0.6 / nc
            for conv, s in zip(self.convs, STRIDES):
                b = conv.bias.view(num_anchors, num_outputs)
                b[:, 4] += math.log(8 / (reference_size / s) ** 2)
                b[:, 5: 5 + num_classes] += math.log(0.6 / max(num_classes - 0.99, 0.01))

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for conv, f in zip(self.convs, feats):
            b, _, h, w = f.shape
            out.append(conv(f).view(b, self.na, self.no, h, w).permute(0, 1, 3, 4, 2).contiguous())
        return out


class KapaoNet(nn.Module):
    def __init__(self, width_multiple: float, depth_multiple: float, num_anchors: int, num_outputs: int,
                 num_classes: int, reference_size: int, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.backbone = CSPDarknetP6(width_multiple, depth_multiple)
        self.neck = PANP6(self.backbone.widths, depth_multiple)
        self.head = KapaoHead(self.neck.out_channels, num_anchors, num_outputs, num_classes, reference_size)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """images (B, 3, H, W) in [0, 1], H and W multiples of 64 → 4 grids (B, Na, H/s, W/s, No)."""
        return self.head(self.neck(self.backbone((images - self.mean) / self.std)))
