"""A straightforward KAPAO decoder to check the fast one against: image by image, every anchor
decoded, one NMS per (image, class), Algorithm 1 as loops over keypoint objects and poses, and
the mapping to image coordinates in float64. Slow on purpose; also the peer of
benchmarks/kapao_postprocess.py."""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import nms

from kpdet.nn.csp_pan import STRIDES


def decode_all_anchors(grids, anchors, num_classes, b):
    """Image ``b``: every anchor of the 4 grids → box (N, 4) cx cy w h, obj (N,), cls (N, nc), kps (N, K, 2)."""
    boxes, obj, cls, kps = [], [], [], []
    for g, anc, s in zip(grids, anchors, STRIDES):
        _, na, ny, nx, _ = g.shape
        y = g[b].float().sigmoid()  # (Na, ny, nx, No)
        gy, gx = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
        cell = torch.stack([gx, gy], -1).float()[None]  # (1, ny, nx, 2)
        a = anc.float().view(na, 1, 1, 2)
        xy = (y[..., :2] * 2 - 0.5 + cell) * s - 0.5
        wh = (y[..., 2:4] * 2).pow(2) * a
        k = y[..., 5 + num_classes:].reshape(na, ny, nx, -1, 2)
        kxy = (k * 4 - 2) * a[..., None, :] + cell[..., None, :] * s - 0.5
        boxes.append(torch.cat([xy, wh], -1).reshape(-1, 4))
        obj.append(y[..., 4].reshape(-1))
        cls.append(y[..., 5: 5 + num_classes].reshape(-1, num_classes))
        kps.append(kxy.reshape(na * ny * nx, -1, 2))
    return torch.cat(boxes), torch.cat(obj), torch.cat(cls), torch.cat(kps)


def _xyxy(b):
    return torch.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)


def reference_predictions(grids, anchors, layout, cfg, fusion_distance_px, meta, fusion=True):
    """[(image_id, category_id, keypoints (K, 3), score, bbox xywh)] in image coordinates."""
    owner, index = layout.kp_class_table()
    out = []
    for b, m in enumerate(meta):
        box, obj, cls_p, kps = decode_all_anchors(grids, anchors, layout.num_classes, b)
        conf, cls = (obj[:, None] * cls_p).max(-1)
        poses = []  # [score, pose class, xyxy, keypoints (K, 3)]
        for c in range(layout.num_pose_classes):
            idx = torch.nonzero((cls == c) & (conf > cfg.conf_pose)).squeeze(1)
            for i in idx[nms(_xyxy(box[idx]), conf[idx], cfg.iou_pose)].tolist():
                kp = np.concatenate([kps[i].double().numpy(), np.zeros((kps.shape[1], 1))], 1)
                poses.append([float(conf[i]), c, _xyxy(box[i: i + 1])[0].double().numpy(), kp])
        poses = sorted(poses, key=lambda p: -p[0])[: cfg.max_det]
        if fusion:
            kp_objects = []  # (conf, pose class, keypoint index, xy)
            for c in range(layout.num_pose_classes, layout.num_classes):
                idx = torch.nonzero((cls == c) & (conf > cfg.conf_kp)).squeeze(1)
                for i in idx[nms(_xyxy(box[idx]), conf[idx], cfg.iou_kp)].tolist():
                    kp_objects.append((float(conf[i]), int(owner[c]), int(index[c]), box[i, :2].double().numpy()))
            claims = {}  # (pose, keypoint) → (conf, xy) of the most confident keypoint object
            for k_conf, k_owner, k_index, xy in kp_objects:
                best, best_d = None, fusion_distance_px
                for n, (score, c, _, kp) in enumerate(poses):
                    if c != k_owner or score <= cfg.fusion_conf:
                        continue
                    d = float(np.hypot(*(kp[k_index, :2] - xy)))
                    if d < best_d:
                        best, best_d = n, d
                if best is not None and k_conf > claims.get((best, k_index), (-1.0,))[0]:
                    claims[(best, k_index)] = (k_conf, xy)
            for (n, k), (k_conf, xy) in claims.items():
                poses[n][3][k] = [xy[0], xy[1], k_conf]
        to_image = np.asarray(m["input_to_image"], np.float64)
        for score, c, xyxy, kp in poses:
            corners = xyxy.reshape(2, 2) @ to_image[:, :2].T + to_image[:, 2]
            kp = np.concatenate([kp[:, :2] @ to_image[:, :2].T + to_image[:, 2], kp[:, 2:]], 1)
            bbox = np.concatenate([corners[0], corners[1] - corners[0]])
            out.append((int(m["image_id"]), layout.category_ids[c], kp[: layout.num_keypoints[c]], score, bbox))
    return out
