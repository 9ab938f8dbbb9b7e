"""Link (skeleton edge) prediction metrics, NumPy only.

Every prediction carrying ``links`` ([i, j, p] rows, 0-based keypoint indices of its category)
is paired with a ground-truth object of its image and category: greedily by score, to the free
one of highest box IoU ≥ ``iou_threshold`` (prediction ``bbox``; without one, the box of its
keypoints). For a pair, every keypoint pair i < j labelled (v > 0) in the ground truth is a
sample: positive when (i, j) is an edge of the category's skeleton, with the predicted
probability p (0 when the prediction lists no such link). Ground-truth objects left without a
prediction add their labelled edges as missed positives (p = 0).

Returns ``precision``, ``recall``, ``F1`` at ``threshold``, ``AUC`` (ROC, ties count half) and
``AP`` (area under the precision–recall steps), pooled over all samples, the same per category
under ``categories``, and ``mean_F1`` over categories.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (4,), b (G, 4) xywh → (G,)."""
    iw = (np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]) - np.maximum(a[0], b[:, 0])).clip(0)
    ih = (np.minimum(a[1] + a[3], b[:, 1] + b[:, 3]) - np.maximum(a[1], b[:, 1])).clip(0)
    inter = iw * ih
    return inter / np.maximum(a[2] * a[3] + b[:, 2] * b[:, 3] - inter, 1e-12)


def auc_roc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann–Whitney AUC; -1 when one class is absent."""
    pos, neg = p[y], p[~y]
    if not len(pos) or not len(neg):
        return -1.0
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allp = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(allp))
    ranks[order] = np.arange(1, len(allp) + 1)
    # average ranks over ties
    _, inv, counts = np.unique(allp, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=np.arange(1, len(allp) + 1))
    ranks[order] = (sums / counts)[inv]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Σ (R_n − R_{n−1}) P_n over descending score thresholds; -1 without positives."""
    if not y.any():
        return -1.0
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]  # one point per distinct threshold
    tp = np.cumsum(ys)[last]
    prec = tp / (last + 1)
    rec = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, rec]) * prec))


def _scores(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    pred = p >= threshold
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    prec = tp / (tp + fp) if tp + fp else -1.0
    rec = tp / (tp + fn) if tp + fn else -1.0
    f1 = 2 * prec * rec / (prec + rec) if prec > 0 and rec > 0 else (0.0 if tp + fn else -1.0)
    return {"precision": prec, "recall": rec, "F1": f1, "AUC": auc_roc(y, p), "AP": average_precision(y, p),
            "num_pairs": int(len(y)), "num_edges": int(y.sum())}


def link_metrics(gt: Any, preds: list[dict[str, Any]], *, threshold: float = 0.5,
                 iou_threshold: float = 0.5) -> dict[str, Any]:
    """gt: CocoDataset (its categories' skeletons are the truth); preds: COCO results with ``links``."""
    ys: dict[int, list[np.ndarray]] = {}
    ps: dict[int, list[np.ndarray]] = {}
    by_key: dict[tuple[int, int], list[dict]] = {}
    for p in preds:
        if p.get("links") is not None:
            by_key.setdefault((int(p["image_id"]), int(p["category_id"])), []).append(p)
    for img in gt.images:
        inst = gt.instances(img["id"])
        for c in np.unique(inst.category_ids):
            schema = gt.schemas[int(c)]
            k = schema.num_keypoints
            if k < 2:
                continue
            edge = np.zeros((k, k), bool)
            for a, b in schema.skeleton:
                edge[a, b] = edge[b, a] = True
            iu, ju = np.triu_indices(k, 1)
            gsel = np.flatnonzero((inst.category_ids == c) & ~inst.iscrowd)
            taken = np.zeros(len(gsel), bool)
            prob = np.zeros((len(gsel), k, k))
            for p in sorted(by_key.get((img["id"], int(c)), []), key=lambda p: -float(p["score"])):
                box = p.get("bbox")
                if box is None:
                    kp = np.asarray(p["keypoints"], np.float64).reshape(-1, 3)
                    lo, hi = kp[:, :2].min(0), kp[:, :2].max(0)
                    box = [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]
                iou = np.where(taken, -1.0, _box_iou(np.asarray(box, np.float64), inst.boxes[gsel]))
                if not len(iou) or iou.max() < iou_threshold:
                    continue
                g = int(iou.argmax())
                taken[g] = True
                for i, j, q in np.asarray(p["links"], np.float64).reshape(-1, 3):
                    i, j = int(i), int(j)
                    if 0 <= i < k and 0 <= j < k:
                        prob[g, i, j] = prob[g, j, i] = max(prob[g, i, j], q)
            for n, g in enumerate(gsel):
                lab = inst.keypoints[g, :k, 2] > 0
                sel = lab[iu] & lab[ju]
                ys.setdefault(int(c), []).append(edge[iu, ju][sel])
                ps.setdefault(int(c), []).append(prob[n, iu, ju][sel])
    cats = {}
    for c in sorted(ys):
        name = gt.category_by_id[c].get("name", str(c))
        cats[name] = _scores(np.concatenate(ys[c]), np.concatenate(ps[c]), threshold)
    y_all = np.concatenate([np.concatenate(v) for v in ys.values()]) if ys else np.zeros(0, bool)
    p_all = np.concatenate([np.concatenate(v) for v in ps.values()]) if ps else np.zeros(0)
    out = _scores(y_all, p_all, threshold)
    f1s = [v["F1"] for v in cats.values() if v["F1"] >= 0]
    out["mean_F1"] = float(np.mean(f1s)) if f1s else -1.0
    out["categories"] = cats
    out["threshold"] = threshold
    return out
