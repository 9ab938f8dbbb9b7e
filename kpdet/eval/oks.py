"""Object keypoint similarity (OKS), computed for many (detection, ground truth) pairs at once.

OKS (COCO keypoint evaluation, Eq. "OKS = Σ_i exp(-d_i² / 2 s² k_i²) δ(v_i>0) / Σ_i δ(v_i>0)")
with s² the ground-truth ``area`` and k_i = 2·σ_i. A ground truth without labelled keypoints
(typically a crowd region) is compared through the distance of every predicted keypoint to its
box doubled in each direction, averaged over all K keypoints, as pycocotools does.
"""

from __future__ import annotations

import numpy as np

_EPS = np.spacing(1)
_CHUNK = 8192  # pairs per block: keeps the (P, K, 3) gathers and temporaries near 10 MB


def oks_pairs(dt_xy: np.ndarray, gt_kp: np.ndarray, gt_box: np.ndarray, gt_area: np.ndarray,
              sigmas: np.ndarray, dt_index: np.ndarray | None = None,
              gt_index: np.ndarray | None = None) -> np.ndarray:
    """OKS of P pairs: (dt_xy[dt_index[p]], gt[gt_index[p]]), or aligned rows without indices.

    dt_xy   # (D, K, 2+) predicted x, y (a third column is ignored)
    gt_kp   # (G, K, 3) ground truth x, y, v
    gt_box  # (G, 4) COCO xywh of the ground truth
    gt_area # (G,) the area OKS is normalised by
    returns # (P,) float64
    """
    di = np.arange(len(dt_xy)) if dt_index is None else dt_index
    gi = np.arange(len(gt_kp)) if gt_index is None else gt_index
    p = len(di)
    out = np.empty(p, np.float64)
    var = (np.asarray(sigmas, np.float64) * 2) ** 2  # (K,)
    for s in range(0, p, _CHUNK):
        d, g = di[s:s + _CHUNK], gi[s:s + _CHUNK]
        out[s:s + _CHUNK] = _oks_block(dt_xy[d], gt_kp[g], gt_box[g], gt_area[g], var)
    return out


def _oks_block(d: np.ndarray, g: np.ndarray, box: np.ndarray, area: np.ndarray, var: np.ndarray) -> np.ndarray:
    k = g.shape[1]
    labelled = g[:, :, 2] > 0  # (P, K)
    k1 = labelled.sum(1)  # (P,)
    xd, yd = d[:, :, 0], d[:, :, 1]
    dx = xd - g[:, :, 0]
    dy = yd - g[:, :, 1]
    none = k1 == 0
    if none.any():
        # distance to the ground-truth box doubled on every side (x0 = x - w, x1 = x + 2w)
        b = box[none]
        x0, x1 = (b[:, 0] - b[:, 2])[:, None], (b[:, 0] + b[:, 2] * 2)[:, None]
        y0, y1 = (b[:, 1] - b[:, 3])[:, None], (b[:, 1] + b[:, 3] * 2)[:, None]
        xn, yn = xd[none], yd[none]
        dx[none] = np.maximum(0, x0 - xn) + np.maximum(0, xn - x1)
        dy[none] = np.maximum(0, y0 - yn) + np.maximum(0, yn - y1)
    with np.errstate(over="ignore"):
        e = (dx ** 2 + dy ** 2) / var / (area + _EPS)[:, None] / 2
    sim = np.exp(-e)  # (P, K)
    sim *= labelled | none[:, None]
    return sim.sum(1) / np.where(none, k, k1)


def oks_matrix(dt_xy: np.ndarray, gt_kp: np.ndarray, gt_box: np.ndarray, gt_area: np.ndarray,
               sigmas: np.ndarray) -> np.ndarray:
    """(D, G) OKS between every detection and every ground truth of one image and category."""
    nd, ng = len(dt_xy), len(gt_kp)
    if nd == 0 or ng == 0:
        return np.zeros((nd, ng), np.float64)
    di, gi = np.repeat(np.arange(nd), ng), np.tile(np.arange(ng), nd)
    return oks_pairs(dt_xy, gt_kp, gt_box, gt_area, sigmas, di, gi).reshape(nd, ng)
