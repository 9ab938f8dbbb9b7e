"""DPAD's dense head (§3.1): anchor-based, YOLO-style box coding, CIoU box loss, per-category BCE.

Per level of stride s, cell (u, v) and anchor (a_w, a_h) (in strides) the head predicts
t = (tx, ty, tw, th, obj, cls_1…cls_C). Box centre ``s·(u + 2σ(tx) − 1) + (s − 1)/2`` (± one
cell around the cell centre, kpdet's pixel-centre convention), size ``(2σ(tw))² · a_w · s``.
A ground-truth box is assigned to every anchor whose size ratio max(w/a, a/w, h/a, a/h) is below
``anchor_t``, at its nearest cell and the two neighbouring cells towards its centre.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

from kpdet.losses.iou import ciou


class DenseHead(nn.Module):
    def __init__(self, channels: int, num_levels: int, num_classes: int, anchors: Sequence[tuple[float, float]]):
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("anchors", torch.as_tensor(anchors, dtype=torch.float32), persistent=False)  # (A, 2)
        a = len(anchors)
        self.out = nn.ModuleList(nn.Conv2d(channels, a * (5 + num_classes), 1) for _ in range(num_levels))
        for conv in self.out:  # YOLO-style prior: few objects per cell, rare classes
            b = conv.bias.detach().view(a, -1)
            b[:, 4] = -4.5
            b[:, 5:] = -3.0

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """[(B, ch, H_l, W_l)] → [(B, A, H_l, W_l, 5 + C)]."""
        outs = []
        for conv, f in zip(self.out, feats):
            b, _, h, w = f.shape
            outs.append(conv(f).view(b, len(self.anchors), -1, h, w).permute(0, 1, 3, 4, 2))
        return outs


def decode_boxes(raw: torch.Tensor, stride: float, anchors: torch.Tensor) -> torch.Tensor:
    """raw (B, A, H, W, ≥4) → boxes (B, A, H, W, 4) x0, y0, x1, y1 in input pixels."""
    _, _, h, w, _ = raw.shape
    v, u = torch.meshgrid(torch.arange(h, device=raw.device), torch.arange(w, device=raw.device), indexing="ij")
    sig = raw[..., :4].float().sigmoid()
    cx = stride * (u + 2 * sig[..., 0] - 1) + (stride - 1) / 2
    cy = stride * (v + 2 * sig[..., 1] - 1) + (stride - 1) / 2
    bw = (2 * sig[..., 2]).pow(2) * anchors[:, 0, None, None] * stride
    bh = (2 * sig[..., 3]).pow(2) * anchors[:, 1, None, None] * stride
    return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)


def assign(boxes: torch.Tensor, valid: torch.Tensor, stride: float, anchors: torch.Tensor, shape: tuple[int, int],
           anchor_t: float) -> tuple[torch.Tensor, ...]:
    """boxes (B, N, 4) xyxy, valid (B, N) → index tensors (b, a, v, u, n) of the positive cells."""
    h, w = shape
    cx, cy = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
    bw, bh = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    aw, ah = anchors[:, 0] * stride, anchors[:, 1] * stride  # (A,)
    rw, rh = bw[..., None] / aw, bh[..., None] / ah  # (B, N, A)
    ratio = torch.maximum(torch.maximum(rw, 1 / rw.clamp_min(1e-6)), torch.maximum(rh, 1 / rh.clamp_min(1e-6)))
    ok = (ratio < anchor_t) & valid[..., None]  # (B, N, A)
    gx, gy = (cx - (stride - 1) / 2) / stride, (cy - (stride - 1) / 2) / stride  # map coordinates
    u0, v0 = gx.round(), gy.round()
    du = torch.where(gx >= u0, 1.0, -1.0)
    dv = torch.where(gy >= v0, 1.0, -1.0)
    idx = []
    for uu, vv in ((u0, v0), (u0 + du, v0), (u0, v0 + dv)):
        inside = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
        b, n, a = torch.nonzero(ok & inside[..., None], as_tuple=True)
        idx.append((b, a, vv[b, n].long(), uu[b, n].long(), n))
    return tuple(torch.cat(t) for t in zip(*idx))


def detection_loss(raw: list[torch.Tensor], strides: Sequence[float], anchors: torch.Tensor, boxes: torch.Tensor,
                   classes: torch.Tensor, valid: torch.Tensor, anchor_t: float) -> dict[str, torch.Tensor]:
    """Unweighted box (1 − CIoU), objectness (BCE, IoU-valued targets) and class (BCE) terms."""
    dev = raw[0].device
    box_l, cls_l, obj_l = (torch.zeros((), device=dev) for _ in range(3))
    n_pos = 0
    for out, s in zip(raw, strides):
        out = out.float()
        b, a, v, u, n = assign(boxes, valid, s, anchors, out.shape[2:4], anchor_t)
        obj_t = torch.zeros(out.shape[:4], device=dev)
        if len(b):
            p = out[b, a, v, u]  # (P, 5 + C)
            pb = _decode_at(p, s, anchors[a], u, v)
            c = ciou(pb, boxes[b, n])
            box_l = box_l + (1 - c).sum()
            obj_t[b, a, v, u] = c.detach().clamp_min(0)
            cls_t = F.one_hot(classes[b, n], out.shape[-1] - 5).float()
            cls_l = cls_l + F.binary_cross_entropy_with_logits(p[:, 5:], cls_t, reduction="sum") / cls_t.shape[1]
            n_pos += len(b)
        obj_l = obj_l + F.binary_cross_entropy_with_logits(out[..., 4], obj_t)
    n_pos = max(n_pos, 1)
    return {"box": box_l / n_pos, "cls": cls_l / n_pos, "obj": obj_l / len(raw)}


def _decode_at(p: torch.Tensor, stride: float, anchors: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """p (P, ≥4) raw outputs at cells (u, v) with anchors (P, 2) → (P, 4) xyxy."""
    sig = p[:, :4].sigmoid()
    cx = stride * (u + 2 * sig[:, 0] - 1) + (stride - 1) / 2
    cy = stride * (v + 2 * sig[:, 1] - 1) + (stride - 1) / 2
    bw = (2 * sig[:, 2]).pow(2) * anchors[:, 0] * stride
    bh = (2 * sig[:, 3]).pow(2) * anchors[:, 1] * stride
    return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)


@torch.no_grad()
def detect(raw: list[torch.Tensor], strides: Sequence[float], anchors: torch.Tensor, *, score_threshold: float,
           nms_iou: float, max_detections: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per image (boxes (D, 4) xyxy, scores (D,), classes (D,) 0-based), after class-wise NMS.
    The best box is always kept so that every image yields at least one object."""
    boxes = torch.cat([decode_boxes(o, s, anchors).flatten(1, 3) for o, s in zip(raw, strides)], 1)  # (B, M, 4)
    logits = torch.cat([o.float().flatten(1, 3) for o in raw], 1)  # (B, M, 5 + C)
    conf = logits[..., 4:5].sigmoid() * logits[..., 5:].sigmoid()  # (B, M, C)
    results = []
    for i in range(len(boxes)):
        score, cls = conf[i].max(-1)
        keep = score >= score_threshold
        keep[score.argmax()] = True
        bx, sc, cl = boxes[i][keep], score[keep], cls[keep]
        top = sc.topk(min(len(sc), 30 * max_detections)).indices
        bx, sc, cl = bx[top], sc[top], cl[top]
        k = batched_nms(bx, sc, cl, nms_iou)[:max_detections]
        results.append((bx[k], sc[k], cl[k]))
    return results
