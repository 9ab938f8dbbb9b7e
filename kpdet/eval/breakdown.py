"""Error breakdowns of the OKS-matched ground truth (see :mod:`kpdet.eval.pck` for matching).

* ``visibility``: ``visible`` (v = 2) and ``hidden`` (v = 1) keypoints;
* ``occlusion_level``: instances by their annotation's ``occlusion_level`` (0..3), present
  only when some annotation carries one;
* ``num_keypoints``: instances by how many keypoints are labelled, in bins of
  ``NUM_KEYPOINT_BINS`` (1–5, 6–10, 11+).

Each group holds ``keypoints`` (labelled keypoints counted), ``PCK``, ``mean_error_px``
(matched instances only), ``missed_keypoints``; instance groups add ``instances``,
``missed_instances`` and ``mean_OKS`` (over matched instances). Empty rates are -1.0.
"""

from __future__ import annotations

import numpy as np

from kpdet.eval.pck import Outcomes, rate

NUM_KEYPOINT_BINS = ((1, 5), (6, 10), (11, None))


def _keypoint_stats(outs: list[Outcomes], masks: list[np.ndarray]) -> dict:
    """masks[i]  # (G_i, K_i) bool: the keypoints of the group."""
    correct = counted = missed = err_n = 0
    err_sum = 0.0
    for o, m in zip(outs, masks):
        m = m & (o.visibility > 0) & o.scored[:, None]
        correct += int((o.correct & m).sum())
        counted += int((o.counted & m).sum())
        fin = m & np.isfinite(o.error)
        err_sum += float(o.error[fin].sum())
        err_n += int(fin.sum())
        missed += int((m & np.isinf(o.error)).sum())
    return {"keypoints": counted, "PCK": rate(correct, counted), "mean_error_px": rate(err_sum, err_n),
            "missed_keypoints": missed}


def _instance_stats(outs: list[Outcomes], masks: list[np.ndarray]) -> dict:
    """masks[i]  # (G_i,) bool: the instances of the group."""
    out = _keypoint_stats(outs, [np.broadcast_to(m[:, None], o.visibility.shape) for o, m in zip(outs, masks)])
    n = sum(int((m & o.scored).sum()) for o, m in zip(outs, masks))
    hit = [m & o.scored & o.matched for o, m in zip(outs, masks)]
    n_hit = sum(int(h.sum()) for h in hit)
    out.update(instances=n, missed_instances=n - n_hit,
               mean_OKS=rate(sum(float(o.oks[h].sum()) for o, h in zip(outs, hit)), n_hit))
    return out


def breakdowns(outs: list[Outcomes]) -> dict:
    result: dict = {"visibility": {
        "visible": _keypoint_stats(outs, [o.visibility == 2 for o in outs]),
        "hidden": _keypoint_stats(outs, [o.visibility == 1 for o in outs]),
    }}
    levels = sorted({int(v) for o in outs for v in o.occlusion[o.scored] if v >= 0})
    if levels:
        result["occlusion_level"] = {str(lv): _instance_stats(outs, [o.occlusion == lv for o in outs])
                                     for lv in levels}
    bins = {}
    for lo, hi in NUM_KEYPOINT_BINS:
        label = f"{lo}-{hi}" if hi is not None else f"{lo}+"
        masks = []
        for o in outs:
            n = (o.visibility > 0).sum(1)
            masks.append((n >= lo) & (n <= hi if hi is not None else True))
        bins[label] = _instance_stats(outs, masks)
    result["num_keypoints"] = bins
    return result
