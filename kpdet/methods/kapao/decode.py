"""KAPAO inference (Sec. 3.3): grid outputs → candidates → thresholds + NMS → fusion (Alg. 1).

Everything runs on flat, batched tensors: candidates of all images are one list with an image
index, NMS is one grouped NMS per object type (image × class groups, torchvision's coordinate
trick), and fusion is a masked distance matrix plus a scatter-max, with no loop over detections.

Speed: the objectness logit of every anchor is compared first, then p̂o · max(ĉ) of the rows
left; only the anchors that can pass the lowest threshold in use are decoded (sigmoid, box,
keypoints). Their values are computed with the same operations as for every anchor, so the
result is the same as decoding all anchors and thresholding afterwards (a test checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torchvision.ops import nms

from kpdet.methods.kapao.config import InferenceConfig
from kpdet.nn.csp_pan import STRIDES

# the pre-filter keeps a candidate when its bound exceeds (1 − margin) · min_conf: the margin covers
# the rounding of σ and of the product, so no anchor that passes a threshold is dropped
_PREFILTER_MARGIN = 1e-4


def raw_candidates(grids: list[torch.Tensor], anchors: torch.Tensor, num_classes: int,
                   min_conf: float | None = None) -> dict[str, torch.Tensor]:
    """4 × (B, Na, H/s, W/s, No) logits → flat candidates, in input pixels (kpdet pixel-centre
    coordinates): image (M,), box (M, 4) cx, cy, w, h; obj (M,); cls (M, nc); keypoints (M, K, 2).
    Every anchor of every image without ``min_conf``; with it, the anchors whose confidence
    p̂o · max(ĉ) may exceed ``min_conf`` (a superset of those that do). Either way in the order
    of the grids flattened per image: image, grid, anchor, row, column."""
    b, no = grids[0].shape[0], grids[0].shape[-1]
    table, to_flat = _layout(tuple(tuple(g.shape[:4]) for g in grids),
                             tuple(tuple(map(tuple, row)) for row in anchors.tolist()), str(grids[0].device))
    n = len(table)  # anchors per image
    if min_conf is None:
        rows = torch.cat([g.reshape(b, -1, no) for g in grids], 1).view(-1, no)  # (B·N, No)
        flat = torch.arange(len(rows), device=rows.device)
    else:
        flat, rows = _prefilter(grids, to_flat, num_classes, min_conf * (1 - _PREFILTER_MARGIN))
    y = rows.float().sigmoid()  # (M, No)
    t = table.index_select(0, flat % n)
    cell, anc, s = t[:, :2], t[:, 2:4], t[:, 4:]
    xy = (y[:, :2] * 2 - 0.5 + cell) * s - 0.5  # corner frame → pixel-centre frame
    wh = (y[:, 2:4] * 2).pow(2) * anc
    k = y[:, 5 + num_classes:].reshape(len(y), -1, 2)
    kxy = (k * 4 - 2) * anc[:, None] + cell[:, None] * s[:, None] - 0.5
    return {"image": torch.div(flat, n, rounding_mode="floor"), "box": torch.cat([xy, wh], 1), "obj": y[:, 4],
            "cls": y[:, 5: 5 + num_classes], "kps": kxy}


def _prefilter(grids: list[torch.Tensor], to_flat: list[torch.Tensor], num_classes: int,
               bound: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat indices (M,), logits (M, No)) of the anchors with σ(objectness) · σ(max class logit) >
    bound: first the objectness logit alone, grid by grid (σ(o) ≥ p̂o · max(ĉ); no copy of the
    whole grids), then the product on the rows left."""
    obj_min = math.log(bound / (1 - bound)) - 1e-3 if bound > 0 else -math.inf  # σ⁻¹(bound), rounded down
    flat, rows = [], []
    for g, index in zip(grids, to_flat):
        local = torch.nonzero((g[..., 4] > obj_min).reshape(-1)).view(-1)  # into (B·Na·H·W)
        flat.append(index.index_select(0, local))
        if g.is_contiguous():
            rows.append(g.view(-1, g.shape[-1]).index_select(0, local))
        else:  # e.g. the head's channel-major output seen as (B, Na, H, W, No)
            rows.append(g[torch.unravel_index(local, g.shape[:4])])
    flat, rows = torch.cat(flat), torch.cat(rows)
    head = rows[:, 4: 5 + num_classes].float()
    keep = torch.nonzero(head[:, 0].sigmoid() * head[:, 1:].amax(-1).sigmoid() > bound).view(-1)
    if len(grids[0]) > 1:  # grid by grid → image by image
        keep = keep.index_select(0, torch.argsort(flat.index_select(0, keep)))
    return flat.index_select(0, keep), rows.index_select(0, keep)


@lru_cache(maxsize=16)
def _layout(shapes: tuple[tuple[int, int, int, int], ...], anchors: tuple[tuple[tuple[float, float], ...], ...],
            device: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """For grids of these (B, Na, H/s, W/s): (N, 5) per anchor of one image (grid, anchor, row,
    column order): cell x, cell y, anchor w, h (input pixels), stride; and per grid, (B·Na·H·W,)
    the flat index (image · N + anchor) of each of its anchors."""
    rows, to_flat, start = [], [], 0
    n = sum(na * ny * nx for _, na, ny, nx in shapes)
    for (b, na, ny, nx), anc, s in zip(shapes, anchors, STRIDES):
        gy, gx = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
        cell = torch.stack([gx, gy], -1).float().expand(na, ny, nx, 2)
        a = torch.tensor(anc, dtype=torch.float32).view(na, 1, 1, 2).expand(na, ny, nx, 2)
        rows.append(torch.cat([cell, a, torch.full((na, ny, nx, 1), float(s))], -1).reshape(-1, 5))
        size = na * ny * nx
        to_flat.append((torch.arange(b)[:, None] * n + start + torch.arange(size)).reshape(-1).to(device))
        start += size
    return torch.cat(rows).to(device), to_flat


@dataclass
class Detections:
    """Flat detections of a batch after NMS. poses: image (P,), pose class (P,), score (P,),
    box (P, 4) xyxy, keypoints (P, K, 3) x, y, confidence (0 where no keypoint object fused)."""

    image: torch.Tensor
    pose_class: torch.Tensor
    score: torch.Tensor
    box: torch.Tensor
    keypoints: torch.Tensor
    num_fused: int = 0


def min_confidence(cfg: InferenceConfig, fusion: bool | None = None) -> float:
    """The lowest confidence threshold :func:`select` applies (τcp, and τck with fusion)."""
    return min(cfg.conf_pose, cfg.conf_kp) if (cfg.fusion if fusion is None else fusion) else cfg.conf_pose


def select(cand: dict[str, torch.Tensor], num_pose_classes: int, kp_owner: torch.Tensor, kp_index: torch.Tensor,
           cfg: InferenceConfig, fusion_distance_px: float, fusion: bool | None = None) -> Detections:
    """Thresholds τcp/τck, NMS τbp/τbk, then keypoint-object fusion into the poses."""
    conf, cls = (cand["obj"][:, None] * cand["cls"]).max(-1)  # (M,): p̂o · max(ĉ), argmax(ĉ)
    is_pose = cls < num_pose_classes
    # poses
    pn = torch.nonzero(is_pose & (conf > cfg.conf_pose)).view(-1)
    pb, p_cls, p_conf = (x.index_select(0, pn) for x in (cand["image"], cls, conf))
    p_box = _xyxy(cand["box"].index_select(0, pn))
    keep = _grouped_nms(p_box, p_conf, pb * num_pose_classes + p_cls, cfg.iou_pose)
    keep = _top_per_image(keep, pb, cfg.max_det)
    kps = cand["kps"].index_select(0, pn.index_select(0, keep))  # (P, K, 2)
    dets = Detections(*(x.index_select(0, keep) for x in (pb, p_cls, p_conf, p_box)),
                      torch.cat([kps, kps.new_zeros(kps.shape[:2] + (1,))], -1))
    if not (cfg.fusion if fusion is None else fusion):
        return dets
    # keypoint objects
    kn = torch.nonzero(~is_pose & (conf > cfg.conf_kp)).view(-1)
    kb, k_cls, k_conf = (x.index_select(0, kn) for x in (cand["image"], cls, conf))
    k_box = cand["box"].index_select(0, kn)
    keep = _grouped_nms(_xyxy(k_box), k_conf, kb * kp_owner.numel() + k_cls, cfg.iou_kp)
    kb, k_cls, k_conf, k_box = (x.index_select(0, keep) for x in (kb, k_cls, k_conf, k_box))
    dets.num_fused = fuse(dets, kb, kp_owner.index_select(0, k_cls), kp_index.index_select(0, k_cls), k_box[:, :2],
                          k_conf, cfg.fusion_conf, fusion_distance_px)
    return dets


def fuse(dets: Detections, k_image: torch.Tensor, k_owner: torch.Tensor, k_index: torch.Tensor, k_xy: torch.Tensor,
         k_conf: torch.Tensor, fusion_conf: float, distance: float) -> int:
    """KAPAO Algorithm 1, in place: each keypoint object goes to the pose (same image, same
    category, score > τfc) whose keypoint of its type is nearest, if within τfd; where several
    reach the same pose keypoint the most confident one wins. Returns the number fused."""
    if len(k_xy) == 0 or len(dets.score) == 0:
        return 0
    pose_kp = dets.keypoints[..., :2].index_select(1, k_index)  # (P, Nk, 2)
    dist = (pose_kp - k_xy[None]).square().sum(-1)  # (P, Nk) squared distances
    bad = ((dets.image[:, None] != k_image[None]) | (dets.pose_class[:, None] != k_owner[None])
           | (dets.score[:, None] <= fusion_conf))
    best, pose = dist.masked_fill_(bad, float("inf")).min(0)  # (Nk,)
    hit = torch.nonzero(best < distance * distance).view(-1)
    if len(hit) == 0:
        return 0
    k = dets.keypoints.shape[1]
    slot = pose.index_select(0, hit) * k + k_index.index_select(0, hit)  # (H,) flat (pose, keypoint) slot
    conf = k_conf.index_select(0, hit)
    top = torch.full((len(dets.score) * k,), -1.0, device=conf.device).scatter_reduce(0, slot, conf, "amax")
    win = torch.nonzero(conf >= top.index_select(0, slot)).view(-1)  # ties: any of the equals; the last write wins
    new = torch.cat([k_xy.index_select(0, hit.index_select(0, win)), conf.index_select(0, win)[:, None]], 1)
    dets.keypoints.view(-1, 3).index_copy_(0, slot.index_select(0, win), new)
    return int((top >= 0).sum())


def _grouped_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou: float) -> torch.Tensor:
    """NMS within each group, indices sorted by score: torchvision's batched_nms coordinate trick
    (each group shifted past the others), without its checks."""
    if len(boxes) == 0:
        return groups.new_zeros(0)
    shift = groups.to(boxes.dtype) * (boxes.max() + 1)
    return nms(boxes + shift[:, None], scores, iou)


def _top_per_image(keep: torch.Tensor, image: torch.Tensor, max_det: int) -> torch.Tensor:
    """``keep`` is sorted by score; cap each image at ``max_det`` detections."""
    if len(keep) <= max_det:  # no image can hold more (the order stays by score, not by image)
        return keep
    img = image[keep]
    order = torch.argsort(img, stable=True)
    counts = torch.bincount(img[order])
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order), device=keep.device) - starts[img[order]]
    return keep[order[rank < max_det]]


def _xyxy(box: torch.Tensor) -> torch.Tensor:
    """(M, 4) cx, cy, w, h → x1, y1, x2, y2 (the arithmetic of kpdet.ops.boxes, in fewer ops)."""
    half = box[:, 2:] / 2
    return torch.cat([box[:, :2] - half, box[:, :2] + half], 1)
