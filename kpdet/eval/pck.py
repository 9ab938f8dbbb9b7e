"""PCK@α and mean pixel error, after matching predictions to ground truth by OKS.

Matching: per image and category, the predictions and the ground truths that can be
scored (not ``iscrowd``, at least one labelled keypoint) are paired by the Hungarian
algorithm on OKS (``scipy.optimize.linear_sum_assignment``, maximising the total OKS);
scores do not take part, so extra predictions (duplicates, false positives) cost nothing
here, they are AP's business. A ground truth left without a prediction, or paired with
OKS 0, is *missed*: its keypoints have error = inf and are never correct.

A labelled keypoint (v > 0) is correct when ``‖pred − gt‖ ≤ α · norm`` of its instance:
  * ``bbox``  (default): the longer side of the ground-truth box;
  * ``torso``: left_shoulder–right_hip distance (else right_shoulder–left_hip);
  * ``head`` (PCKh): the annotation's ``head_size`` if present, else 0.6 × the diagonal of
    its ``head_box`` [x, y, w, h] (MPII's convention), else the length of the head segment
    between labelled head keypoints (head_top/head – upper_neck/neck).
An instance without a usable norm is left out of PCK (counted in ``unnormalised``) but its
pixel errors still count. ``mean_error_px`` is the mean Euclidean error over the labelled
keypoints of matched instances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from kpdet.errors import ConfigError
from kpdet.eval.groundtruth import CategoryTruth
from kpdet.eval.oks import oks_pairs
from kpdet.eval.predictions import Detections

NORMS = ("bbox", "torso", "head")
_TORSO = (("left_shoulder", "right_hip"), ("right_shoulder", "left_hip"))
_HEAD = (("head_top", "upper_neck"), ("head_top", "neck"), ("head", "neck"), ("top_head", "neck"))


@dataclass
class Outcomes:
    """Per ground-truth keypoint results of one category."""

    error: np.ndarray  # (G, K) px; inf for a missed instance, nan where not labelled
    correct: np.ndarray  # (G, K) bool
    counted: np.ndarray  # (G, K) bool: labelled keypoint of a scored, normalisable instance
    visibility: np.ndarray  # (G, K) 0/1/2
    scored: np.ndarray  # (G,) bool: instance takes part (not crowd, ≥ 1 labelled keypoint)
    matched: np.ndarray  # (G,) bool
    oks: np.ndarray  # (G,) OKS of the matched prediction, 0 when missed
    occlusion: np.ndarray  # (G,) -1 when unknown
    unnormalised: int


def match_by_oks(t: CategoryTruth, d: Detections, num_images: int) -> tuple[np.ndarray, np.ndarray]:
    """(G,) index of the matched detection (-1 if none) and its OKS, by Hungarian matching."""
    from scipy.optimize import linear_sum_assignment  # here: `kpdet --help` need not load scipy

    g_n = len(t.img)
    scored = ~t.crowd & (t.keypoints[:, :, 2] > 0).any(1)
    gidx = np.nonzero(scored)[0]
    dorder = np.argsort(d.img, kind="stable")
    gorder = gidx[np.argsort(t.img[gidx], kind="stable")]
    nd = np.bincount(d.img, minlength=num_images)
    ng = np.bincount(t.img[gidx], minlength=num_images)
    npair = nd * ng
    images = np.nonzero(npair)[0]
    ds, gs = np.cumsum(nd) - nd, np.cumsum(ng) - ng
    # all pairs image by image, row-major (D_i, G_i) blocks
    pi = np.repeat(images, npair[images])
    local = np.arange(len(pi)) - np.repeat(np.cumsum(npair[images]) - npair[images], npair[images])
    pd = dorder[ds[pi] + local // ng[pi]]
    pg = gorder[gs[pi] + local % ng[pi]]
    oks = oks_pairs(d.keypoints, t.keypoints, t.boxes, t.areas, t.sigmas, pd, pg)
    to_dt = np.full(g_n, -1, np.int64)
    best = np.zeros(g_n)
    start = 0
    for i in images:
        n_d, n_g = int(nd[i]), int(ng[i])
        block = oks[start:start + n_d * n_g].reshape(n_d, n_g)
        rows, cols = linear_sum_assignment(block, maximize=True)
        dd, gg = pd[start:start + n_d * n_g].reshape(n_d, n_g), pg[start:start + n_d * n_g].reshape(n_d, n_g)
        good = block[rows, cols] > 0
        to_dt[gg[rows, cols][good]] = dd[rows, cols][good]
        best[gg[rows, cols][good]] = block[rows, cols][good]
        start += n_d * n_g
    return to_dt, best


def _segment(kp: np.ndarray, names: tuple[str, ...], pairs: tuple[tuple[str, str], ...]) -> np.ndarray:
    """(G,) length of the first pair of keypoints both labelled, nan where none is."""
    out = np.full(len(kp), np.nan)
    for a, b in pairs:
        if a in names and b in names:
            pa, pb = kp[:, names.index(a)], kp[:, names.index(b)]
            ok = np.isnan(out) & (pa[:, 2] > 0) & (pb[:, 2] > 0)
            out[ok] = np.hypot(*(pa[ok, :2] - pb[ok, :2]).T)
    return out


def instance_norm(t: CategoryTruth, norm: str) -> np.ndarray:
    """(G,) normalising length of each ground truth; nan where it cannot be computed."""
    if norm == "bbox":
        out = t.boxes[:, 2:].max(1) if len(t.boxes) else np.zeros(0)
    elif norm == "torso":
        out = _segment(t.keypoints, t.schema.keypoints, _TORSO)
    elif norm == "head":
        out = _segment(t.keypoints, t.schema.keypoints, _HEAD)
        for i, a in enumerate(t.annotations):
            if a.get("head_size") is not None:
                out[i] = float(a["head_size"])
            elif a.get("head_box") is not None:
                w, h = float(a["head_box"][2]), float(a["head_box"][3])
                out[i] = 0.6 * np.hypot(w, h)  # MPII: SC_BIAS · head-box diagonal
    else:
        raise ConfigError(f"unknown PCK normalisation '{norm}'; choose one of {', '.join(NORMS)}")
    out = np.asarray(out, np.float64)
    return np.where(out > 0, out, np.nan)


def pck_outcomes(t: CategoryTruth, d: Detections, num_images: int, alpha: float, norm: str) -> Outcomes:
    to_dt, oks = match_by_oks(t, d, num_images)
    kp = t.keypoints
    vis = kp[:, :, 2].astype(np.int64)
    scored = ~t.crowd & (vis > 0).any(1)
    matched = to_dt >= 0
    err = np.full(vis.shape, np.inf)
    if matched.any():
        diff = d.keypoints[to_dt[matched], :, :2] - kp[matched, :, :2]
        err[matched] = np.hypot(diff[..., 0], diff[..., 1])
    err[vis == 0] = np.nan
    length = instance_norm(t, norm)
    normalisable = ~np.isnan(length)
    counted = (vis > 0) & (scored & normalisable)[:, None]
    with np.errstate(invalid="ignore"):
        correct = counted & (err <= alpha * length[:, None])
    return Outcomes(err, correct, counted, vis, scored, matched, oks, t.occlusion,
                    int((scored & ~normalisable).sum()))


def rate(num: float, den: float) -> float:
    """num / den, or -1.0 for an empty set (the COCO convention)."""
    return float(num / den) if den else -1.0


def pck_summary(outs: list[Outcomes], names: list[tuple[str, ...]]) -> dict:
    """PCK, PCK_per_keypoint (pooled by keypoint name), mean_error_px and counts."""
    per_kp: dict[str, list[int]] = {}
    correct = counted = 0
    err_sum, err_n = 0.0, 0
    for o, kn in zip(outs, names):
        for j, name in enumerate(kn):
            c = per_kp.setdefault(name, [0, 0])
            c[0] += int(o.correct[:, j].sum())
            c[1] += int(o.counted[:, j].sum())
        correct += int(o.correct.sum())
        counted += int(o.counted.sum())
        finite = (o.visibility > 0) & o.scored[:, None] & np.isfinite(o.error)
        err_sum += float(o.error[finite].sum())
        err_n += int(finite.sum())
    return {
        "PCK": rate(correct, counted),
        "PCK_per_keypoint": {k: rate(*v) for k, v in per_kp.items()},
        "mean_error_px": rate(err_sum, err_n),
        "num_keypoints": counted,
        "num_instances": int(sum(o.scored.sum() for o in outs)),
        "num_missed": int(sum((o.scored & ~o.matched).sum() for o in outs)),
        "num_unnormalised": int(sum(o.unnormalised for o in outs)),
    }
