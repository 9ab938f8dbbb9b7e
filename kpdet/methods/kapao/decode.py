"""KAPAO inference (Sec. 3.3): grid outputs → candidates → thresholds + NMS → fusion (Alg. 1).

Everything runs on flat, batched tensors: candidates of all images are one list with an image
index, NMS is one ``torchvision.ops.batched_nms`` call per object type (image × class groups),
and fusion is a masked distance matrix plus a scatter-max, with no loop over detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.ops import batched_nms

from kpdet.methods.kapao.config import InferenceConfig
from kpdet.nn.csp_pan import STRIDES


def raw_candidates(grids: list[torch.Tensor], anchors: torch.Tensor, num_classes: int) -> dict[str, torch.Tensor]:
    """4 × (B, Na, H/s, W/s, No) logits → per anchor of every cell, in input pixels (kpdet
    pixel-centre coordinates): box (B, N, 4) cx, cy, w, h; obj (B, N); cls (B, N, nc);
    keypoints (B, N, K, 2)."""
    boxes, obj, cls, kps = [], [], [], []
    for g, anc, s in zip(grids, anchors, STRIDES):
        b, na, ny, nx, no = g.shape
        y = g.float().sigmoid()
        gy, gx = torch.meshgrid(torch.arange(ny, device=g.device), torch.arange(nx, device=g.device), indexing="ij")
        cell = torch.stack([gx, gy], -1).to(y)[None, None]  # (1, 1, ny, nx, 2)
        a = anc.to(y).view(1, na, 1, 1, 2)
        xy = (y[..., :2] * 2 - 0.5 + cell) * s - 0.5  # corner frame → pixel-centre frame
        wh = (y[..., 2:4] * 2).pow(2) * a
        k = y[..., 5 + num_classes:].reshape(b, na, ny, nx, -1, 2)
        kxy = (k * 4 - 2) * a[..., None, :] + cell[..., None, :] * s - 0.5
        boxes.append(torch.cat([xy, wh], -1).reshape(b, -1, 4))
        obj.append(y[..., 4].reshape(b, -1))
        cls.append(y[..., 5: 5 + num_classes].reshape(b, -1, num_classes))
        kps.append(kxy.reshape(b, na * ny * nx, -1, 2))
    return {"box": torch.cat(boxes, 1), "obj": torch.cat(obj, 1), "cls": torch.cat(cls, 1), "kps": torch.cat(kps, 1)}


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


def select(cand: dict[str, torch.Tensor], num_pose_classes: int, kp_owner: torch.Tensor, kp_index: torch.Tensor,
           cfg: InferenceConfig, fusion_distance_px: float, fusion: bool | None = None) -> Detections:
    """Thresholds τcp/τck, NMS τbp/τbk, then keypoint-object fusion into the poses."""
    from kpdet.ops.boxes import cxcywh_to_xyxy

    conf, cls = (cand["obj"][..., None] * cand["cls"]).max(-1)  # (B, N): p̂o · max(ĉ), argmax(ĉ)
    is_pose = cls < num_pose_classes
    # poses
    pb, pn = torch.nonzero(is_pose & (conf > cfg.conf_pose), as_tuple=True)
    p_box = cxcywh_to_xyxy(cand["box"][pb, pn])
    p_cls, p_conf = cls[pb, pn], conf[pb, pn]
    keep = batched_nms(p_box, p_conf, pb * num_pose_classes + p_cls, cfg.iou_pose)
    keep = _top_per_image(keep, pb, cfg.max_det)
    pb, p_cls, p_conf, p_box = pb[keep], p_cls[keep], p_conf[keep], p_box[keep]
    p_kps = cand["kps"][pb, pn[keep]]  # (P, K, 2)
    kps = torch.cat([p_kps, torch.zeros_like(p_kps[..., :1])], -1)
    dets = Detections(pb, p_cls, p_conf, p_box, kps)
    if not (cfg.fusion if fusion is None else fusion):
        return dets
    # keypoint objects
    kb, kn = torch.nonzero(~is_pose & (conf > cfg.conf_kp), as_tuple=True)
    k_cls, k_conf = cls[kb, kn], conf[kb, kn]
    k_box = cxcywh_to_xyxy(cand["box"][kb, kn])
    keep = batched_nms(k_box, k_conf, kb * kp_owner.numel() + k_cls, cfg.iou_kp)
    kb, k_cls, k_conf, k_xy = kb[keep], k_cls[keep], k_conf[keep], cand["box"][kb[keep], kn[keep], :2]
    dets.num_fused = fuse(dets, kb, kp_owner[k_cls], kp_index[k_cls], k_xy, k_conf, cfg.fusion_conf,
                          fusion_distance_px)
    return dets


def fuse(dets: Detections, k_image: torch.Tensor, k_owner: torch.Tensor, k_index: torch.Tensor, k_xy: torch.Tensor,
         k_conf: torch.Tensor, fusion_conf: float, distance: float) -> int:
    """KAPAO Algorithm 1, in place: each keypoint object goes to the pose (same image, same
    category, score > τfc) whose keypoint of its type is nearest, if within τfd; where several
    reach the same pose keypoint the most confident one wins. Returns the number fused."""
    if len(k_xy) == 0 or len(dets.score) == 0:
        return 0
    pose_kp = dets.keypoints[:, k_index.clamp_min(0), :2]  # (P, Nk, 2)
    dist = (pose_kp - k_xy[None]).square().sum(-1)  # (P, Nk) squared distances
    bad = ((dets.image[:, None] != k_image[None]) | (dets.pose_class[:, None] != k_owner[None])
           | (dets.score[:, None] <= fusion_conf))
    best, pose = dist.masked_fill_(bad, float("inf")).min(0)  # (Nk,)
    hit = (best < distance * distance).nonzero().squeeze(1)
    if len(hit) == 0:
        return 0
    pose, kidx, conf, xy = pose[hit], k_index[hit], k_conf[hit], k_xy[hit]
    k = dets.keypoints.shape[1]
    slot = pose * k + kidx  # (H,) flat (pose, keypoint) slot
    top = torch.full((len(dets.score) * k,), -1.0, device=conf.device).scatter_reduce(0, slot, conf, "amax")
    winner = conf >= top[slot]  # ties: any of the equals; the last write below wins
    flat = dets.keypoints.view(-1, 3)
    flat[slot[winner], :2] = xy[winner]
    flat[slot[winner], 2] = conf[winner]
    return int((top >= 0).sum())


def _top_per_image(keep: torch.Tensor, image: torch.Tensor, max_det: int) -> torch.Tensor:
    """``keep`` is sorted by score; cap each image at ``max_det`` detections."""
    if len(keep) == 0:
        return keep
    img = image[keep]
    order = torch.argsort(img, stable=True)
    counts = torch.bincount(img[order])
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order), device=keep.device) - starts[img[order]]
    return keep[order[rank < max_det]]
