"""Minimal OKS evaluation backed by pycocotools.

Placeholder carried by the engine branch until the `evaluation` branch lands; it has the
contract's signature and supports metric="oks" for datasets whose categories share one
keypoint count. The lead replaces this module at merge.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from typing import Any

import numpy as np

from kpdet.data.coco import CocoDataset, load_coco
from kpdet.errors import ConfigError, DataError

_OKS_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def evaluate(gt: CocoDataset | str | os.PathLike, preds: list[dict[str, Any]] | str | os.PathLike,
             metric: str = "oks", *, pck_alpha: float = 0.1) -> dict[str, float]:
    if metric != "oks":
        raise ConfigError(f"metric '{metric}' is not available in this build (only 'oks')")
    if not isinstance(gt, CocoDataset):
        gt = load_coco(gt)
    if not isinstance(preds, list):
        with open(preds, encoding="utf-8") as f:
            preds = json.load(f)
        if not isinstance(preds, list):
            raise DataError(str(preds), "expected a JSON list of predictions")
    if not preds:
        return {name: 0.0 for name in _OKS_NAMES}
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    counts = {s.num_keypoints for s in gt.schemas.values() if s.num_keypoints}
    if len(counts) != 1:
        raise ConfigError(f"{gt.source}: categories with different keypoint counts {sorted(counts)} "
                          "need the full evaluation module")
    sigmas = next(s for s in gt.schemas.values() if s.num_keypoints).sigma_array()
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt.to_dict()))
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([dict(p) for p in preds])
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(max(v, 0.0)) for name, v in zip(_OKS_NAMES, ev.stats)}
