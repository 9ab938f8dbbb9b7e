"""Complete IoU (Zheng et al., AAAI 2020) for box regression: one implementation for every detector."""

from __future__ import annotations

import math

import torch

from kpdet.ops.boxes import cxcywh_to_xyxy


def ciou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """a, b  # (..., 4) x0, y0, x1, y1 pairs  →  (...,) IoU − ρ²/c² − α·v (Zheng et al. Eq. 9–11).

    c is the diagonal of the smallest enclosing box, v = 4/π² (atan(w_b/h_b) − atan(w_a/h_a))²,
    α = v / (1 − IoU + v) with no gradient through α.
    """
    w1, h1 = (a[..., 2] - a[..., 0]).clamp_min(eps), (a[..., 3] - a[..., 1]).clamp_min(eps)
    w2, h2 = (b[..., 2] - b[..., 0]).clamp_min(eps), (b[..., 3] - b[..., 1]).clamp_min(eps)
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp_min(0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp_min(0)
    inter = iw * ih
    iou = inter / (w1 * h1 + w2 * h2 - inter + eps)
    cw = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    ch = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    c2 = cw.pow(2) + ch.pow(2) + eps
    rho2 = ((a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]).pow(2)
            + (a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]).pow(2)) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - rho2 / c2 - alpha * v


def complete_iou(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """CIoU of matching rows of (N, 4) cx, cy, w, h boxes → (N,)."""
    return ciou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(target), eps)


def ciou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of 1 − CIoU over matching (N, 4) cx, cy, w, h rows; 0 when there are none."""
    if pred.numel() == 0:
        return pred.sum() * 0
    return (1.0 - complete_iou(pred, target)).mean()
