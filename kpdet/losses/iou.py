"""Complete IoU (Zheng et al., AAAI 2020) for box regression."""

from __future__ import annotations

import math

import torch

from kpdet.ops.boxes import cxcywh_to_xyxy


def complete_iou(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """CIoU of matching rows of (N, 4) cx, cy, w, h boxes → (N,).

    CIoU = IoU − ρ²(centres) / c² − α·v, with c the diagonal of the smallest enclosing box,
    v = 4/π² (atan(w_t/h_t) − atan(w_p/h_p))² and α = v / (1 − IoU + v) (no gradient through α).
    """
    a, b = cxcywh_to_xyxy(pred), cxcywh_to_xyxy(target)
    inter = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp_min(0).prod(-1)
    w1, h1 = pred[:, 2], pred[:, 3] + eps
    w2, h2 = target[:, 2], target[:, 3] + eps
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    enclose = torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])
    c2 = enclose.pow(2).sum(-1) + eps
    rho2 = (pred[:, :2] - target[:, :2]).pow(2).sum(-1)
    v = (4 / math.pi**2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)).pow(2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


def ciou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of 1 − CIoU over matching rows; 0 when there are none."""
    if pred.numel() == 0:
        return pred.sum() * 0
    return (1.0 - complete_iou(pred, target)).mean()
