"""Complete-IoU (Zheng et al., AAAI 2020) between paired boxes, and its loss 1 − CIoU."""

from __future__ import annotations

import math

import torch


def ciou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """a, b  # (..., 4) x0, y0, x1, y1  →  (...,) IoU − ρ²/c² − α·v (Zheng et al. Eq. 9–11)."""
    w1, h1 = (a[..., 2] - a[..., 0]).clamp_min(eps), (a[..., 3] - a[..., 1]).clamp_min(eps)
    w2, h2 = (b[..., 2] - b[..., 0]).clamp_min(eps), (b[..., 3] - b[..., 1]).clamp_min(eps)
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp_min(0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp_min(0)
    inter = iw * ih
    iou = inter / (w1 * h1 + w2 * h2 - inter + eps)
    # ρ²: squared centre distance; c²: squared diagonal of the smallest enclosing box
    cw = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    ch = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    c2 = cw.pow(2) + ch.pow(2) + eps
    rho2 = ((a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]).pow(2)
            + (a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]).pow(2)) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - rho2 / c2 - alpha * v


def ciou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(..., 4) xyxy pairs → (...,) 1 − CIoU, in [0, 3)."""
    return 1 - ciou(pred, target)
