"""Box AP with COCO's ``iouType='bbox'`` semantics, NumPy only.

Per image and category: detections sorted by score, the top ``max_dets`` (100) kept; each, best
score first, takes the free ground truth of highest IoU ≥ t (non-crowd first; a crowd region
takes any number of detections, IoU = intersection / detection area); crowd ground truths and
detections matched to them are ignored. Precision is read at 101 recall points; AP is the mean
over IoU 0.50:0.95 and categories, AP50/AP75 at one threshold. Area ranges: all only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kpdet.eval.coco_eval import IOU_THRS, CategoryMatches, accumulate


def _iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """d (D, 4), g (G, 4) xywh → (D, G) IoU (crowd: intersection over detection area)."""
    dx1, dy1 = d[:, 0] + d[:, 2], d[:, 1] + d[:, 3]
    gx1, gy1 = g[:, 0] + g[:, 2], g[:, 1] + g[:, 3]
    iw = (np.minimum(dx1[:, None], gx1[None]) - np.maximum(d[:, None, 0], g[None, :, 0])).clip(0)
    ih = (np.minimum(dy1[:, None], gy1[None]) - np.maximum(d[:, None, 1], g[None, :, 1])).clip(0)
    inter = iw * ih
    da, ga = d[:, 2] * d[:, 3], g[:, 2] * g[:, 3]
    union = np.where(crowd[None], da[:, None], da[:, None] + ga[None] - inter)
    return inter / np.maximum(union, 1e-12)


def box_ap(gt: Any, preds: list[dict[str, Any]], *, max_dets: int = 100) -> dict[str, Any]:
    """gt: CocoDataset; preds: COCO results with ``bbox`` → {AP, AP50, AP75, categories: {name: …}}."""
    t_n = len(IOU_THRS)
    img_index = {img["id"]: i for i, img in enumerate(gt.images)}
    cats = [c["id"] for c in gt.categories]
    per_cat, prec_all = {}, []
    for c in cats:
        gts = [a for a in gt.annotations if a["category_id"] == c]
        dts = [p for p in preds if int(p["category_id"]) == c and p.get("bbox") is not None
               and int(p["image_id"]) in img_index]
        g_img = np.array([img_index[a["image_id"]] for a in gts], np.int64)
        g_box = np.array([a["bbox"] for a in gts], np.float64).reshape(-1, 4)
        g_crowd = np.array([bool(a.get("iscrowd", 0)) for a in gts], bool)
        imgs, scores, matched, ignored = [], [], [], []
        by_img: dict[int, list[dict]] = {}
        for p in dts:
            by_img.setdefault(img_index[int(p["image_id"])], []).append(p)
        for im, ds in by_img.items():
            ds = sorted(ds, key=lambda p: -float(p["score"]))[:max_dets]
            gsel = np.flatnonzero(g_img == im)
            gsel = gsel[np.argsort(g_crowd[gsel], kind="stable")]  # non-crowd first
            d_box = np.array([p["bbox"] for p in ds], np.float64).reshape(-1, 4)
            iou = _iou(d_box, g_box[gsel], g_crowd[gsel])
            m = np.zeros((len(ds), t_n), bool)
            ig = np.zeros((len(ds), t_n), bool)
            for t, thr in enumerate(IOU_THRS):
                taken = np.zeros(len(gsel), bool)
                for di in range(len(ds)):
                    best, bi = min(thr, 1 - 1e-10), -1
                    for gi in range(len(gsel)):
                        if taken[gi] and not g_crowd[gsel[gi]]:
                            continue
                        if bi > -1 and not g_crowd[gsel[bi]] and g_crowd[gsel[gi]]:
                            break
                        if iou[di, gi] < best:
                            continue
                        best, bi = iou[di, gi], gi
                    if bi > -1:
                        taken[bi] = True
                        m[di, t] = True
                        ig[di, t] = g_crowd[gsel[bi]]
            imgs += [im] * len(ds)
            scores += [float(p["score"]) for p in ds]
            matched.append(m)
            ignored.append(ig)
        cm = CategoryMatches(np.array(imgs, np.int64), np.array(scores, np.float64),
                             (np.concatenate(matched) if matched else np.zeros((0, t_n), bool))[..., None],
                             (np.concatenate(ignored) if ignored else np.zeros((0, t_n), bool))[..., None],
                             g_img, g_crowd[:, None])
        precision, _ = accumulate(cm)  # (T, R, 1)
        prec_all.append(precision[..., 0])
        per_cat[gt.category_by_id[c].get("name", str(c))] = _summary(precision[None, ..., 0])
    out = _summary(np.stack(prec_all)) if prec_all else {"AP": -1.0, "AP50": -1.0, "AP75": -1.0}
    out["categories"] = per_cat
    return out


def _summary(prec: np.ndarray) -> dict[str, float]:
    """prec (C, T, R) → AP, AP50, AP75 (-1 where no category has ground truth)."""
    def mean(x):
        v = x[x > -1]
        return float(v.mean()) if v.size else -1.0
    t50, t75 = int(np.argmin(abs(IOU_THRS - 0.5))), int(np.argmin(abs(IOU_THRS - 0.75)))
    return {"AP": mean(prec), "AP50": mean(prec[:, t50]), "AP75": mean(prec[:, t75])}
