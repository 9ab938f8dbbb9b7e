"""Per-image KAPAO targets: pose objects and keypoint objects as label rows (KAPAO Sec. 3).

Row layout, in input pixels of the (augmented) image with the origin at the image's top-left
CORNER (kpdet coordinates + 0.5, the frame in which a grid cell i of stride s spans
[s·i, s·(i+1))): class, cx, cy, w, h, then (x, y, v) for each of K_max keypoints.

* Pose object: class = the category's pose class, its box, its keypoints (v from the labels).
* Keypoint object: class = the keypoint's class, a b_s × b_s box centred on the keypoint with
  b_s = kp_bbox · the longer input side; its keypoint columns are zeros (no keypoint loss).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kpdet.methods.kapao.layout import ClassLayout
from kpdet.structures import Sample


class KapaoTargets:
    def __init__(self, layout: ClassLayout, kp_bbox: float, kp_min_visibility: int = 1):
        self.layout, self.kp_bbox, self.min_v = layout, kp_bbox, kp_min_visibility

    def __call__(self, sample: Sample) -> dict[str, Any]:
        inst = sample.instances
        kmax = self.layout.max_keypoints
        h, w = sample.meta.get("input_hw", sample.image.shape[:2])
        keep = np.array([int(c) in self.layout.category_ids for c in inst.category_ids], bool)
        if len(inst):
            keep &= ~inst.iscrowd
        inst = inst.select(keep) if len(inst) else inst
        n = len(inst)
        kps = np.zeros((n, kmax, 3))
        k_have = min(kmax, inst.keypoints.shape[1]) if n else 0
        if n:
            kps[:, :k_have] = inst.keypoints[:, :k_have]
        kps[..., :2] += 0.5
        kps[kps[..., 2] <= 0] = 0
        pose_cls = np.array([self.layout.pose_class(int(c)) for c in inst.category_ids], np.float64)
        boxes = inst.boxes if n else np.zeros((0, 4))
        cxcy = boxes[:, :2] + boxes[:, 2:] / 2 + 0.5
        pose = np.concatenate([pose_cls[:, None], cxcy, boxes[:, 2:], kps.reshape(n, 3 * kmax)], 1)

        size = self.kp_bbox * max(h, w)
        inst_i, kp_i = np.nonzero(kps[..., 2] >= self.min_v)  # (P,), (P,)
        offsets = np.array(self.layout.kp_offsets)[pose_cls[inst_i].astype(int)] if len(inst_i) else np.zeros(0)
        kp_rows = np.zeros((len(inst_i), 5 + 3 * kmax))
        kp_rows[:, 0] = offsets + kp_i
        kp_rows[:, 1:3] = kps[inst_i, kp_i, :2]
        kp_rows[:, 3:5] = size
        labels = np.concatenate([pose.reshape(-1, 5 + 3 * kmax), kp_rows]).astype(np.float32)
        return {"labels": labels}
