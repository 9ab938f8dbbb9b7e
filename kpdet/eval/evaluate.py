"""`evaluate(gt, preds, metric)`: the one entry point (documented in ``kpdet/eval/__init__.py``)."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from kpdet.data.coco import CocoDataset, load_coco
from kpdet.errors import ConfigError
from kpdet.eval.breakdown import breakdowns
from kpdet.eval.coco_eval import accumulate, match_category, summarise
from kpdet.eval.crowdpose import crowd_index, crowdpose_metrics
from kpdet.eval.groundtruth import image_order, truth_by_category
from kpdet.eval.pck import NORMS, pck_outcomes, pck_summary
from kpdet.eval.predictions import parse_results, read_results

METRICS = ("oks", "crowdpose", "pck", "pckh")


def evaluate(gt: CocoDataset | str | os.PathLike, preds: list[dict[str, Any]] | str | os.PathLike,
             metric: str = "oks", *, pck_alpha: float = 0.1, pck_norm: str = "bbox",
             warn_unknown: bool = True) -> dict[str, Any]:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric '{metric}'; choose one of {', '.join(METRICS)}")
    if pck_norm not in NORMS:
        raise ConfigError(f"unknown PCK normalisation '{pck_norm}'; choose one of {', '.join(NORMS)}")
    if metric == "pckh":
        pck_alpha, pck_norm = 0.5, "head"
    ds = gt if isinstance(gt, CocoDataset) else load_coco(gt)
    if isinstance(preds, (str, os.PathLike)):
        source, results = str(preds), read_results(preds)
    else:
        source, results = "<predictions>", preds
    image_ids, index = image_order(ds)
    truth = truth_by_category(ds, index)
    dets = parse_results(results, {c: t.num_keypoints for c, t in truth.items()}, index,
                         source=source, warn_unknown=warn_unknown)
    n_img = len(image_ids)
    names = _category_names(truth)

    out: dict[str, Any] = {"metric": metric}
    if metric == "oks":
        prec, rec = [], []
        out["categories"] = {}
        for cid, t in truth.items():
            d = dets[cid]
            m = match_category(t.img, t.keypoints, t.boxes, t.areas, t.crowd, t.ignore,
                               d.img, d.keypoints, d.scores, d.areas, t.sigmas, n_img)
            p, r = accumulate(m)
            prec.append(p)
            rec.append(r)
            out["categories"][names[cid]] = summarise(p[:, :, None], r[:, None])
        out.update(summarise(np.stack(prec, 2), np.stack(rec, 1)) if prec else {})
    elif metric == "crowdpose":
        overall, per_cat = crowdpose_metrics(truth, dets, crowd_index(ds, image_ids))
        out.update(overall)
        out["categories"] = {names[c]: v for c, v in per_cat.items()}

    outcomes = {cid: pck_outcomes(t, dets[cid], n_img, pck_alpha, pck_norm) for cid, t in truth.items()}
    pck = pck_summary(list(outcomes.values()), [t.schema.keypoints for t in truth.values()])
    if pck["num_unnormalised"]:
        warnings.warn(f"{pck['num_unnormalised']} instance(s) have no usable '{pck_norm}' length "
                      f"and are left out of PCK (see kpdet.eval.pck)", stacklevel=2)
    pck_cats = {names[c]: pck_summary([o], [truth[c].schema.keypoints]) for c, o in outcomes.items()}
    if metric in ("pck", "pckh"):
        out.update(pck)
        out["categories"] = pck_cats
    else:
        out["pck"] = pck
        for n, v in pck_cats.items():
            out["categories"][n]["pck"] = v
    out["pck_alpha"], out["pck_norm"] = pck_alpha, pck_norm
    out["breakdowns"] = breakdowns(list(outcomes.values()))
    out["num_images"], out["num_predictions"] = n_img, int(sum(len(d) for d in dets.values()))
    return out


def _category_names(truth: dict) -> dict[int, str]:
    seen: dict[str, int] = {}
    for t in truth.values():
        seen[t.name] = seen.get(t.name, 0) + 1
    return {c: t.name if seen[t.name] == 1 else f"{t.name} (id {c})" for c, t in truth.items()}
