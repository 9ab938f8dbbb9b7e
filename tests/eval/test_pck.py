"""PCK / PCKh / breakdowns on a hand-made case whose every number is worked out below."""

import numpy as np
import pytest

from kpdet.data.coco import parse_coco
from kpdet.errors import ConfigError
from kpdet.eval import evaluate

NAMES = ["head_top", "neck", "left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def _kp(xy, v):
    return [c for (x, y), vv in zip(xy, v) for c in (float(x), float(y), vv)]


A_XY = [(10, 10), (10, 20), (0, 30), (20, 30), (0, 60), (0, 0)]
B_XY = [(210, 210), (210, 220), (200, 230), (220, 230), (200, 270), (220, 270)]


def _gt():
    anns = [
        # A: box 100 wide; right_hip unlabelled, right_shoulder hidden
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 50], "area": 3000.0,
         "keypoints": _kp(A_XY, [2, 2, 2, 1, 2, 0])},
        # B: box 80 tall, head size given
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [200, 200, 40, 80], "area": 2000.0,
         "keypoints": _kp(B_XY, [2] * 6), "occlusion_level": 2, "head_size": 40.0},
        # C: in another image, never predicted
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [200, 200, 40, 80], "area": 2000.0,
         "keypoints": _kp(B_XY, [2] * 6), "occlusion_level": 0, "head_box": [200, 200, 30, 40]},
        # a crowd region takes no part in PCK
        {"id": 4, "image_id": 2, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2000.0, "iscrowd": 1},
    ]
    return parse_coco({"images": [{"id": 1, "file_name": "1.png"}, {"id": 2, "file_name": "2.png"}],
                       "annotations": anns,
                       "categories": [{"id": 1, "name": "person", "keypoints": NAMES,
                                       "sigmas": [0.08] * 6}]})


def _pred(xy, dx, score):
    return {"image_id": 1, "category_id": 1, "score": score,
            "keypoints": [c for (x, y), d in zip(xy, dx) for c in (x + d, y, 1.0)]}


def _preds():
    return [
        _pred(A_XY, [0, 5, 9, 11, 0, 0], 0.5),
        _pred(A_XY, [30] * 6, 0.9),  # a worse duplicate with a higher score: matching ignores scores
        _pred(B_XY, [20] * 6, 0.8),
    ]


def test_pck_bbox_norm():
    r = evaluate(_gt(), _preds(), "pck")
    # A: errors 0, 5, 9, 11, 0 against 0.1·100 = 10 → 4 of 5; B: 20 px against 8 → 0 of 6; C missed → 0 of 6
    assert r["PCK"] == pytest.approx(4 / 17)
    assert r["mean_error_px"] == pytest.approx((25 + 6 * 20) / 11)
    assert r["num_instances"] == 3 and r["num_missed"] == 1 and r["num_keypoints"] == 17
    assert r["PCK_per_keypoint"]["right_shoulder"] == 0.0
    assert r["PCK_per_keypoint"]["head_top"] == pytest.approx(1 / 3)
    assert r["PCK_per_keypoint"]["right_hip"] == 0.0  # B and C only
    assert r["categories"]["person"]["PCK"] == r["PCK"]


def test_pck_torso_norm():
    r = evaluate(_gt(), _preds(), "pck", pck_norm="torso", pck_alpha=0.1)
    # A: right_hip unlabelled → right_shoulder–left_hip = √(20² + 30²) ≈ 36.1 → errors 0 and 0 pass (2 of 5)
    # B: left_shoulder–right_hip = √(20² + 40²) ≈ 44.7 → 20 px fails
    assert r["PCK"] == pytest.approx(2 / 17)


def test_pckh_uses_head_size_box_or_segment():
    r = evaluate(_gt(), _preds(), "pckh")
    # A: head_top–neck = 10 → 0.5·10 = 5: errors 0, 5, 0 pass (3 of 5); B: head_size 40 → 20 ≤ 20 (6 of 6)
    assert r["pck_alpha"] == 0.5 and r["pck_norm"] == "head"
    assert r["PCK"] == pytest.approx(9 / 17)


def test_breakdowns():
    b = evaluate(_gt(), _preds(), "pck")["breakdowns"]
    assert b["visibility"]["hidden"]["keypoints"] == 1 and b["visibility"]["hidden"]["PCK"] == 0.0
    assert b["visibility"]["visible"]["keypoints"] == 16
    assert b["visibility"]["visible"]["PCK"] == pytest.approx(4 / 16)
    assert set(b["occlusion_level"]) == {"0", "2"}
    assert b["occlusion_level"]["2"]["PCK"] == 0.0 and b["occlusion_level"]["2"]["mean_error_px"] == 20.0
    assert b["occlusion_level"]["0"]["missed_instances"] == 1 and b["occlusion_level"]["0"]["mean_OKS"] == -1.0
    assert b["num_keypoints"]["1-5"]["instances"] == 1 and b["num_keypoints"]["1-5"]["PCK"] == pytest.approx(0.8)
    assert b["num_keypoints"]["6-10"]["instances"] == 2 and b["num_keypoints"]["11+"]["instances"] == 0
    assert b["num_keypoints"]["11+"]["PCK"] == -1.0


def test_missed_instance_is_never_correct_even_with_huge_alpha():
    r = evaluate(_gt(), _preds(), "pck", pck_alpha=100.0)
    assert r["PCK"] == pytest.approx(11 / 17)


def test_unknown_norm_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown PCK normalisation 'elbow'"):
        evaluate(_gt(), _preds(), "pck", pck_norm="elbow")
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate(_gt(), _preds(), "mAP")


def test_no_head_information_warns_and_reports_minus_one():
    gt = _gt()
    for a in gt.annotations:
        a.pop("head_size", None), a.pop("head_box", None)
    gt.categories[0]["keypoints"] = [f"k{i}" for i in range(6)]
    gt = parse_coco(gt.to_dict())
    with pytest.warns(UserWarning, match=r"3 instance\(s\) have no usable 'head' length"):
        r = evaluate(gt, _preds(), "pckh")
    assert r["PCK"] == -1.0 and r["num_unnormalised"] == 3
    assert np.isfinite(r["mean_error_px"])
