"""OKS AP/AR must equal pycocotools' COCOeval(iouType='keypoints') to 1e-12."""

import copy
import json

import numpy as np
import pytest

from kpdet.data.coco import load_coco, parse_coco
from kpdet.eval import evaluate
from kpdet.eval.coco_eval import STAT_KEYS
from kpdet.schema import COCO17, DEFAULT_SIGMA

from problem import make_problem, noisy_predictions, pycocotools_stats


def _stats(r: dict) -> np.ndarray:
    return np.array([r[k] for k in STAT_KEYS])


@pytest.mark.parametrize("seed,with_bbox", [(0, False), (1, False), (2, True)])
def test_synthetic_equals_pycocotools(seed, with_bbox):
    gt, preds = make_problem(300, seed, with_bbox=with_bbox)
    assert sum(a["iscrowd"] for a in gt["annotations"]) > 10
    assert any(a["num_keypoints"] == 0 and not a["iscrowd"] for a in gt["annotations"])
    per_image = np.bincount([p["image_id"] for p in preds])
    assert per_image.max() > 20  # the top-20 cut takes part
    r = evaluate(parse_coco(copy.deepcopy(gt)), preds)
    ref = pycocotools_stats(gt, preds, COCO17.sigmas)
    assert 0.1 < r["AP"] < 0.9
    np.testing.assert_allclose(_stats(r), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_stats(r["categories"]["person"]), ref, rtol=0, atol=1e-12)


def test_multi_category_mean_equals_pycocotools_catids():
    cats = ((1, "a", 17), (4, "b", 17), (9, "empty", 17))
    gt, preds = make_problem(200, 5, categories=cats[:2])
    gt["categories"].append({**gt["categories"][0], "id": 9, "name": "empty"})
    r = evaluate(parse_coco(copy.deepcopy(gt)), preds)
    np.testing.assert_allclose(_stats(r), pycocotools_stats(gt, preds, COCO17.sigmas), atol=1e-12, rtol=0)
    np.testing.assert_allclose(_stats(r["categories"]["b"]),
                               pycocotools_stats(gt, preds, COCO17.sigmas, cat_ids=[4]), atol=1e-12, rtol=0)
    assert all(v == -1.0 for v in _stats(r["categories"]["empty"]))


def test_categories_with_different_keypoint_sets_use_their_own_sigmas():
    gt, preds = make_problem(150, 7, categories=((1, "person", 17), (2, "paw", 5)))
    ref_paw = [p for p in preds if p["category_id"] == 2]
    r = evaluate(parse_coco(copy.deepcopy(gt)), preds)
    gt_paw = copy.deepcopy(gt)
    gt_paw["annotations"] = [a for a in gt_paw["annotations"] if a["category_id"] == 2]
    gt_paw["categories"] = [c for c in gt_paw["categories"] if c["id"] == 2]
    ref = pycocotools_stats(gt_paw, ref_paw, COCO17.sigmas[:5])
    np.testing.assert_allclose(_stats(r["categories"]["paw"]), ref, atol=1e-12, rtol=0)
    assert r["AP"] == pytest.approx((r["categories"]["paw"]["AP"] + r["categories"]["person"]["AP"]) / 2)


def test_category_without_sigmas_warns_and_uses_default():
    gt, preds = make_problem(100, 3, sigmas=False, categories=((1, "thing", 6),))
    with pytest.warns(UserWarning, match="no OKS sigmas"):
        r = evaluate(parse_coco(copy.deepcopy(gt)), preds)
    ref = pycocotools_stats(gt, preds, np.full(6, DEFAULT_SIGMA))
    np.testing.assert_allclose(_stats(r), ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ["coco/test_coco.json", "crowdpose/test_crowdpose.json",
                                  "ochuman/test_ochuman.json"])
@pytest.mark.parametrize("seed", [0, 1])
def test_shared_subsets_equal_pycocotools(shared_data, name, seed, recwarn):
    ds = load_coco(shared_data / "mmpose-testdata" / name)
    gt = json.loads(json.dumps(ds.to_dict()))  # with the area/num_keypoints parse_coco filled in
    preds = noisy_predictions(gt, seed)
    sigmas = ds.schemas[gt["categories"][0]["id"]].sigma_array()
    r = evaluate(ds, preds)
    np.testing.assert_allclose(_stats(r), pycocotools_stats(gt, preds, sigmas), atol=1e-12, rtol=0)


def test_perfect_predictions_score_one(shared_data):
    ds = load_coco(shared_data / "mmpose-testdata" / "coco" / "test_coco.json")
    preds = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
             for a in ds.annotations if a["num_keypoints"] > 0]
    r = evaluate(ds, preds)
    assert r["AP"] == pytest.approx(1.0, abs=1e-12) and r["AR"] == 1.0
    assert r["pck"]["PCK"] == 1.0 and r["pck"]["mean_error_px"] == 0.0


def test_no_predictions_gives_zero_and_empty_ranges_minus_one():
    gt, _ = make_problem(20, 4)
    for a in gt["annotations"]:  # every instance medium-sized: no large ground truth
        a["area"] = 50.0 ** 2
    r = evaluate(parse_coco(copy.deepcopy(gt)), [])
    assert r["AP"] == 0.0 and r["AR"] == 0.0 and r["APm"] == 0.0
    assert r["APl"] == -1.0 and r["ARl"] == -1.0
    assert r["pck"]["PCK"] == 0.0 and r["pck"]["num_missed"] == r["pck"]["num_instances"]
