"""Keypoint evaluation: OKS AP/AR (COCO), CrowdPose AP, PCK/PCKh, breakdowns. NumPy only.

``evaluate(gt, preds, metric="oks", *, pck_alpha=0.1, pck_norm="bbox", warn_unknown=True)``
takes the ground truth (a :class:`~kpdet.data.coco.CocoDataset` or a path) and the
predictions (a list of COCO result dicts or a path to such a JSON list) and returns a dict:

``metric="oks"`` (COCO keypoints; equal to pycocotools' ``COCOeval(iouType='keypoints')``)
    ``AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl``: floats, -1.0 where undefined.
    Overall values are COCO's mean over categories (pycocotools with all ``catIds``); every
    category uses its own keypoints and OKS sigmas (``KeypointSchema.sigma_array()``; a
    category without sigmas gets ``DEFAULT_SIGMA`` per keypoint with a warning: one fixed
    tolerance per keypoint, not 1/K, so that OKS does not depend on how many keypoints a
    category has).
    ``pck``: the PCK block below (with ``pck_alpha``/``pck_norm``), as extra information.
``metric="crowdpose"`` (xtcocotools' crowdpose mode, see :mod:`kpdet.eval.crowdpose`)
    ``AP, AP50, AP75, AR, AR50, AR75, AP_easy, AP_medium, AP_hard`` and ``pck``.
``metric="pck"`` / ``"pckh"`` (see :mod:`kpdet.eval.pck`; ``pckh`` is PCKh@0.5: α = 0.5, head norm)
    ``PCK`` (float), ``PCK_per_keypoint`` ({keypoint name: float}, pooled over categories
    by name), ``mean_error_px``, ``num_keypoints``, ``num_instances``, ``num_missed``,
    ``num_unnormalised``.

Every metric also gives
    ``categories``: {category name: the same keys for that category (plus ``pck`` for
    oks/crowdpose)}; a name shared by two categories becomes ``"name (id N)"``;
    ``breakdowns``: ``visibility`` / ``occlusion_level`` / ``num_keypoints`` groups
    (:mod:`kpdet.eval.breakdown`);
    ``metric``, ``pck_alpha``, ``pck_norm``, ``num_images``, ``num_predictions``.

Empty rates are -1.0, COCO's convention. Result files are validated
(:mod:`kpdet.eval.predictions`): malformed results raise ``DataError`` naming the file,
the result index and the field; results for unknown image ids are dropped with a warning.
"""

from kpdet.eval.evaluate import METRICS, evaluate

__all__ = ["evaluate", "METRICS"]
