"""KAPAO's multi-task loss (Sec. 3.2) with YOLOv5's tolerance-based anchor assignment.

Assignment, per output grid s: a target is matched to every anchor whose width and height
ratios to the target's lie within [1/anchor_t, anchor_t]; it is predicted by the cell that
contains its centre and, with ``neighbour_cells``, by the two adjacent cells nearest to the
centre (x and y), which the sigmoid-bounded offsets (−0.5 … 1.5 cells) can still reach.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kpdet.losses.iou import complete_iou
from kpdet.methods.kapao.config import LossConfig


def assign(labels: torch.Tensor, anchors: torch.Tensor, stride: int, grid_hw: tuple[int, int],
           anchor_t: float, neighbours: bool):
    """labels (M, 6 + 3K) [b, cls, cx, cy, w, h, (x, y, v)·K] in corner-frame pixels;
    anchors (Na, 2) in pixels → index tensors and grid-space targets of the positives."""
    ny, nx = grid_hw
    na = anchors.shape[0]
    anc = anchors / stride  # (Na, 2) grid units
    gwh = labels[:, 4:6] / stride  # (M, 2)
    ratio = gwh[None] / anc[:, None]  # (Na, M, 2)
    ok = torch.maximum(ratio, 1 / ratio).amax(-1) < anchor_t  # (Na, M)
    a_idx, m_idx = ok.nonzero(as_tuple=True)
    gxy = labels[m_idx, 2:4] / stride  # (P, 2)
    shifts = [torch.zeros_like(gxy)]
    keep = [torch.ones(len(gxy), dtype=torch.bool, device=gxy.device)]
    if neighbours:
        frac = gxy % 1
        size = torch.tensor([nx, ny], device=gxy.device, dtype=gxy.dtype)
        low = (frac < 0.5) & (gxy > 1)  # nearer the left / top edge → also the cell before
        high = (frac > 0.5) & (gxy < size - 1)  # nearer the right / bottom edge → the cell after
        for axis in (0, 1):
            for mask, step in ((low, -1.0), (high, 1.0)):
                d = torch.zeros_like(gxy)
                d[:, axis] = step
                shifts.append(d)
                keep.append(mask[:, axis])
    shift = torch.cat(shifts)
    sel = torch.cat(keep)
    rep = len(shifts)
    a_idx, m_idx, gxy, shift = a_idx.repeat(rep)[sel], m_idx.repeat(rep)[sel], gxy.repeat(rep, 1)[sel], shift[sel]
    cell = (gxy.floor() + shift)
    gi = cell[:, 0].clamp(0, nx - 1).long()
    gj = cell[:, 1].clamp(0, ny - 1).long()
    cell = torch.stack([gi, gj], 1).to(gxy)
    lab = labels[m_idx]
    kps = lab[:, 6:].reshape(len(lab), (labels.shape[1] - 6) // 3, 3)
    kxy = kps[..., :2] / stride - cell[:, None]  # (P, K, 2) relative to the cell origin
    return {
        "b": lab[:, 0].long(), "a": a_idx, "gj": gj, "gi": gi, "cls": lab[:, 1].long(),
        "box": torch.cat([gxy - cell, gwh[m_idx]], 1), "anchor": anc[a_idx],
        "kxy": kxy, "kv": kps[..., 2] > 0, "na": na,
    }


def kapao_loss(grids: list[torch.Tensor], labels: torch.Tensor, anchors: torch.Tensor, strides: tuple[int, ...],
               num_classes: int, cfg: LossConfig) -> dict[str, torch.Tensor]:
    """grids: 4 × (B, Na, H/s, W/s, No) logits; anchors (4, Na, 2) pixels → weighted loss terms."""
    dev = grids[0].device
    zero = torch.zeros((), device=dev)
    l_box, l_obj, l_cls, l_kps = zero, zero, zero, zero
    labels = labels.to(dev)
    for g, anc, s, w_s in zip(grids, anchors, strides, cfg.grid_weights):
        g = g.float()
        t = assign(labels, anc, s, g.shape[2:4], cfg.anchor_t, cfg.neighbour_cells)
        tobj = torch.zeros(g.shape[:4], device=dev)
        if len(t["b"]):
            p = g[t["b"], t["a"], t["gj"], t["gi"]]  # (P, No)
            pxy = p[:, :2].sigmoid() * 2 - 0.5  # KAPAO Eq. for t̂x, t̂y
            pwh = (p[:, 2:4].sigmoid() * 2).pow(2) * t["anchor"]  # t̂w, t̂h
            iou = complete_iou(torch.cat([pxy, pwh], 1), t["box"])
            l_box = l_box + (1 - iou).mean()
            vis = t["kv"]  # (P, K) only pose objects carry labelled keypoints
            if vis.any():
                pk = p[:, 5 + num_classes:].reshape(len(p), -1, 2)
                pk = (pk.sigmoid() * 4 - 2) * t["anchor"][:, None]  # v̂ = anchor · (4σ − 2)
                l_kps = l_kps + torch.linalg.norm(pk - t["kxy"], dim=-1)[vis].mean()
            tobj[t["b"], t["a"], t["gj"], t["gi"]] = iou.detach().clamp(0).to(tobj.dtype)
            onehot = F.one_hot(t["cls"], num_classes).to(p.dtype)
            l_cls = l_cls + F.binary_cross_entropy_with_logits(p[:, 5: 5 + num_classes], onehot)
        l_obj = l_obj + w_s * F.binary_cross_entropy_with_logits(g[..., 4], tobj)
    scale = grids[0].shape[0] if cfg.batch_scale else 1
    return {"box": l_box * cfg.box * scale, "obj": l_obj * cfg.obj * scale,
            "cls": l_cls * cfg.cls * scale, "kps": l_kps * cfg.kps * scale}
