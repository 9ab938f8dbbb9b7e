"""OracleId (Table 3, bottom, of the conditional link-prediction paper in shared/seeds): score keypoint locations without the identity error.

Each prediction is paired with the ground-truth object of its image and category of highest box
IoU (the keypoints' box when it has no ``bbox``); its K predicted locations are then permuted by
the Hungarian assignment that minimises the total distance to that object's labelled keypoints.
The relabelled results go through the usual evaluator (e.g. ``evaluate(gt, out, metric="pck")``).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from kpdet.eval.links import _box_iou


def oracle_relabel(gt: Any, preds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from scipy.optimize import linear_sum_assignment

    out = []
    for p in preds:
        q = copy.deepcopy(p)
        out.append(q)
        inst = gt.instances(int(p["image_id"])) if int(p["image_id"]) in gt.image_by_id else None
        if inst is None:
            continue
        sel = np.flatnonzero((inst.category_ids == int(p["category_id"])) & ~inst.iscrowd)
        if not len(sel):
            continue
        kp = np.asarray(p["keypoints"], np.float64).reshape(-1, 3)
        box = p.get("bbox")
        if box is None:
            lo, hi = kp[:, :2].min(0), kp[:, :2].max(0)
            box = [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]
        g = sel[int(np.argmax(_box_iou(np.asarray(box, np.float64), inst.boxes[sel])))]
        k = len(kp)
        truth = inst.keypoints[g, :k]
        lab = np.flatnonzero(truth[:, 2] > 0)
        if not len(lab):
            continue
        cost = np.linalg.norm(kp[:, None, :2] - truth[None, lab, :2], axis=-1)  # (K, L)
        rows, cols = linear_sum_assignment(cost)
        new = np.zeros_like(kp)
        used = np.zeros(k, bool)
        filled = np.zeros(k, bool)
        for r, c in zip(rows, cols):
            new[lab[c]] = kp[r]
            used[r] = filled[lab[c]] = True
        rest = iter(np.flatnonzero(~used))
        for slot in np.flatnonzero(~filled):
            new[slot] = kp[next(rest)]
        q["keypoints"] = [float(v) for v in new.reshape(-1)]
    return out
