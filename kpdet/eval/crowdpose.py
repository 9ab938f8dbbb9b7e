"""CrowdPose statistics, as xtcocotools' ``COCOeval(iouType='keypoints_crowd', use_area=False)``.

Differences from COCO's keypoint evaluation (all from xtcocotools' crowdpose mode, the
protocol of the CrowdPose benchmark):
  * OKS and area ranges use 0.53 × the ground-truth box area instead of ``area``;
  * predictions whose keypoint scores are all 0 are dropped before evaluation;
  * besides AP/AP50/AP75/AR/AR50/AR75 (all areas, 20 detections), ``AP_easy``,
    ``AP_medium`` and ``AP_hard`` re-accumulate over the images whose ``crowdIndex``
    is < 0.2, in [0.2, 0.8) and ≥ 0.8. xtcocotools rounds these three to 4 decimals;
    here they are exact.
"""

from __future__ import annotations

import numpy as np

from kpdet.data.coco import CocoDataset
from kpdet.errors import DataError
from kpdet.eval.coco_eval import accumulate, match_category, summarise, _mean
from kpdet.eval.groundtruth import CategoryTruth
from kpdet.eval.predictions import Detections

CROWD_SPLITS = {"easy": (-np.inf, 0.2), "medium": (0.2, 0.8), "hard": (0.8, np.inf)}
CROWD_KEYS = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard")
_AREA_FACTOR = 0.53


def crowd_index(ds: CocoDataset, image_ids: np.ndarray) -> np.ndarray:
    out = np.empty(len(image_ids))
    for n, iid in enumerate(image_ids):
        v = ds.image_by_id[int(iid)].get("crowdIndex")
        if v is None:
            raise DataError(ds.source, "missing; the crowdpose metric needs every image's crowd index",
                            record=f"image id {int(iid)}", field="crowdIndex")
        out[n] = float(v)
    return out


def crowdpose_metrics(truth: dict[int, CategoryTruth], dets: dict[int, Detections],
                      crowd: np.ndarray) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    splits = {k: (crowd >= lo) & (crowd < hi) for k, (lo, hi) in CROWD_SPLITS.items()}
    prec, rec, split_prec = [], [], {k: [] for k in splits}
    per_cat = {}
    for cid, t in truth.items():
        d = dets[cid]
        keep = (d.keypoints[:, :, 2] > 0).any(1)
        area = t.boxes[:, 2] * t.boxes[:, 3] * _AREA_FACTOR
        m = match_category(t.img, t.keypoints, t.boxes, area, t.crowd, t.ignore, d.img[keep],
                           d.keypoints[keep], d.scores[keep], d.areas[keep], t.sigmas, len(crowd))
        p, r = accumulate(m)
        prec.append(p)
        rec.append(r)
        for k, mask in splits.items():
            split_prec[k].append(accumulate(m, mask)[0])
        per_cat[cid] = _stats(p[:, :, None], r[:, None], {k: v[-1][:, :, None] for k, v in split_prec.items()})
    overall = _stats(np.stack(prec, 2), np.stack(rec, 1), {k: np.stack(v, 2) for k, v in split_prec.items()})
    return overall, per_cat


def _stats(prec: np.ndarray, rec: np.ndarray, split_prec: dict[str, np.ndarray]) -> dict[str, float]:
    s = summarise(prec, rec)
    out = {k: s[k] for k in ("AP", "AP50", "AP75", "AR", "AR50", "AR75")}
    for k, p in split_prec.items():
        out[f"AP_{k}"] = _mean(p[:, :, :, 0])
    return out
