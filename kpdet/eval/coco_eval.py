"""COCO keypoint AP/AR: greedy matching, accumulation and the ten summary statistics.

Same semantics as pycocotools' ``COCOeval(iouType='keypoints')`` (values equal to 1e-12):
per image and category the detections are sorted by score (stable), only the top
``max_dets`` (20) take part; ground truths are ignored when ``iscrowd`` or
``num_keypoints == 0``, or outside the area range; each detection, best score first,
takes the still-free ground truth with the highest OKS ≥ t, preferring not-ignored ones
(a crowd region can take any number of detections; among equal OKS the later ground truth
wins, as in pycocotools' loop); unmatched detections outside the area range are ignored;
precision is made monotone and read at 101 recall points; -1 marks an empty setting.

Speed: instead of pycocotools' Python loops over images × thresholds × area ranges × pairs,
all OKS values are computed in a few array operations over every (detection, ground truth)
pair of an image, and the greedy matching runs in ``max_dets`` steps: step r lets the r-th
detection of *every* image choose at once, for all thresholds together, one area range at a time
(a segmented arg-max with ``np.maximum.reduceat``).

Deliberate difference: pycocotools treats a match with a ground truth whose annotation
id is 0 as no match (it stores ids and tests them for 0); here such a match counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kpdet.eval.oks import oks_pairs

# exactly pycocotools' thresholds (linspace, not arange: 0.75 must compare equal)
IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
AREA_RANGES = {"all": (0 ** 2, 1e5 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, 1e5 ** 2)}
MAX_DETS = 20
STAT_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


@dataclass
class CategoryMatches:
    """Greedy-matching result of one category, detections in pycocotools' accumulation order."""

    img: np.ndarray  # (D,) image index of each kept detection
    scores: np.ndarray  # (D,)
    matched: np.ndarray  # (D, T, A) bool
    ignored: np.ndarray  # (D, T, A) bool
    gt_img: np.ndarray  # (G,)
    gt_ignored: np.ndarray  # (G, A) bool


def match_category(gt_img: np.ndarray, gt_kp: np.ndarray, gt_box: np.ndarray, gt_area: np.ndarray,
                   gt_crowd: np.ndarray, gt_ignore: np.ndarray, dt_img: np.ndarray, dt_kp: np.ndarray,
                   dt_score: np.ndarray, dt_area: np.ndarray, sigmas: np.ndarray, num_images: int, *,
                   area_ranges: tuple[tuple[float, float], ...] = tuple(AREA_RANGES.values()),
                   iou_thrs: np.ndarray = IOU_THRS, max_dets: int = MAX_DETS) -> CategoryMatches:
    """Match the detections of one category to its ground truth in every image at once."""
    t_n, a_n = len(iou_thrs), len(area_ranges)
    lo = np.array([r[0] for r in area_ranges], np.float64)
    hi = np.array([r[1] for r in area_ranges], np.float64)

    # detections: image ascending, score descending, file order on ties; top max_dets per image
    order = np.lexsort((-dt_score, dt_img))
    dimg = dt_img[order]
    nd_img = np.bincount(dimg, minlength=num_images)
    rank = np.arange(len(order)) - (np.cumsum(nd_img) - nd_img)[dimg]
    keep = rank < max_dets
    order, dimg, rank = order[keep], dimg[keep], rank[keep]
    d_n = len(order)

    # ground truth grouped by image, file order inside an image
    gorder = np.argsort(gt_img, kind="stable")
    ng_img = np.bincount(gt_img, minlength=num_images)
    gstart = np.cumsum(ng_img) - ng_img
    g_ig = gt_ignore[:, None] | (gt_area[:, None] < lo) | (gt_area[:, None] > hi)  # (G, A)

    # all (detection, ground truth) pairs of an image, grouped by detection rank, then detection
    by_rank = np.argsort(rank, kind="stable")
    cnt = ng_img[dimg[by_rank]]  # pairs per detection
    seg = np.cumsum(cnt) - cnt
    p_n = int(cnt.sum())
    pair_d = np.repeat(by_rank, cnt)
    pair_g = gorder[np.repeat(gstart[dimg[by_rank]] - seg, cnt) + np.arange(p_n)]
    oks = oks_pairs(dt_kp, gt_kp, gt_box, gt_area, sigmas, order[pair_d], pair_g)  # (P,)

    thr = np.minimum(iou_thrs, 1 - 1e-10)[None, :]  # (1, T)
    dt_gt = np.full((d_n, t_n, a_n), -1, np.int64)
    bounds = np.searchsorted(rank[by_rank], np.arange(max_dets + 1))
    for ar in range(a_n):  # one area range at a time: a third of the temporaries' memory
        taken = np.zeros((len(gt_img), t_n), bool)
        for r in range(max_dets):
            a, b = bounds[r], bounds[r + 1]
            c = cnt[a:b]
            has = c > 0
            if not has.any():
                continue
            p0, p1 = seg[a], seg[a] + int(c.sum())
            starts, lens = seg[a:b][has] - p0, c[has]
            o, g = oks[p0:p1], pair_g[p0:p1]
            ok = (~taken[g] | gt_crowd[g][:, None]) & (o[:, None] >= thr)  # (Pr, T)
            ig = g_ig[g, ar][:, None]  # (Pr, 1)
            ov = o[:, None]
            k_reg = np.where(ok & ~ig, ov, -1.0)
            k_ign = np.where(ok & ig, ov, -1.0)
            m_reg = np.maximum.reduceat(k_reg, starts, axis=0)  # (nr, T)
            use_reg = m_reg > -1
            best = np.where(use_reg, m_reg, np.maximum.reduceat(k_ign, starts, axis=0))
            key = np.where(np.repeat(use_reg, lens, axis=0), k_reg, k_ign)
            hit = (key == np.repeat(best, lens, axis=0)) & (key > -1)
            pos = np.where(hit, np.arange(len(o))[:, None], -1)
            last = np.maximum.reduceat(pos, starts, axis=0)  # the last pair with the best OKS
            matched = last >= 0
            gsel = np.where(matched, g[np.maximum(last, 0)], -1)
            dt_gt[by_rank[a:b][has], :, ar] = gsel
            i, t = np.nonzero(matched)
            taken[gsel[i, t], t] = True

    matched = dt_gt >= 0
    a_idx = np.arange(a_n)[None, None, :]
    dt_out = (dt_area[order][:, None] < lo) | (dt_area[order][:, None] > hi)  # (D, A)
    ignored = np.where(matched, g_ig[np.maximum(dt_gt, 0), a_idx], dt_out[:, None, :])
    return CategoryMatches(dimg, dt_score[order], matched, ignored, gt_img, g_ig)


def accumulate(m: CategoryMatches, image_mask: np.ndarray | None = None,
               rec_thrs: np.ndarray = REC_THRS) -> tuple[np.ndarray, np.ndarray]:
    """precision (T, R, A) and recall (T, A) of one category (-1 where it has no ground truth)."""
    d_sel = slice(None) if image_mask is None else image_mask[m.img]
    g_sel = slice(None) if image_mask is None else image_mask[m.gt_img]
    scores = m.scores[d_sel]
    order = np.argsort(-scores, kind="mergesort")
    matched, ignored = m.matched[d_sel][order], m.ignored[d_sel][order]  # (N, T, A)
    npig = (~m.gt_ignored[g_sel]).sum(0)  # (A,)
    n, t_n, a_n = matched.shape
    precision = -np.ones((t_n, len(rec_thrs), a_n))
    recall = -np.ones((t_n, a_n))
    for a in range(a_n):
        if npig[a] == 0:
            continue
        tps = (matched[:, :, a] & ~ignored[:, :, a]).T  # (T, N)
        fps = (~matched[:, :, a] & ~ignored[:, :, a]).T
        tp = np.cumsum(tps, axis=1).astype(float)
        fp = np.cumsum(fps, axis=1).astype(float)
        rc = tp / npig[a]
        pr = tp / (fp + tp + np.spacing(1))
        recall[:, a] = rc[:, -1] if n else 0
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        for t in range(t_n):
            inds = np.searchsorted(rc[t], rec_thrs, side="left")
            valid = inds < n
            q = np.zeros(len(rec_thrs))
            q[valid] = pr[t, inds[valid]]
            precision[t, :, a] = q
    return precision, recall


def _mean(s: np.ndarray) -> float:
    v = s[s > -1]
    return float(np.mean(v)) if v.size else -1.0


def summarise(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """The ten COCO keypoint statistics from precision (T, R, C, A) and recall (T, C, A)."""
    t50, t75 = np.where(IOU_THRS == .5)[0], np.where(IOU_THRS == .75)[0]
    a_all, a_med, a_large = 0, 1, 2
    return {
        "AP": _mean(precision[:, :, :, a_all]),
        "AP50": _mean(precision[t50][:, :, :, a_all]),
        "AP75": _mean(precision[t75][:, :, :, a_all]),
        "APm": _mean(precision[:, :, :, a_med]),
        "APl": _mean(precision[:, :, :, a_large]),
        "AR": _mean(recall[:, :, a_all]),
        "AR50": _mean(recall[t50][:, :, a_all]),
        "AR75": _mean(recall[t75][:, :, a_all]),
        "ARm": _mean(recall[:, :, a_med]),
        "ARl": _mean(recall[:, :, a_large]),
    }
