"""Box AP against pycocotools, link metrics and OracleId relabelling on small hand-made sets."""

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from kpdet.data.coco import parse_coco
from kpdet.eval import evaluate
from kpdet.eval.boxes import box_ap
from kpdet.eval.links import auc_roc, average_precision, link_metrics
from kpdet.eval.oracle import oracle_relabel


def _dataset(n_images=4, seed=0):
    rng = np.random.default_rng(seed)
    cats = [{"id": 1, "name": "a", "keypoints": ["p0", "p1", "p2", "p3"], "skeleton": [[1, 2], [2, 3], [3, 4]],
             "sigmas": [0.07] * 4},
            {"id": 2, "name": "b", "keypoints": ["q0", "q1", "q2"], "skeleton": [[1, 2], [1, 3]], "sigmas": [0.07] * 3}]
    images, anns = [], []
    for i in range(n_images):
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": 200, "height": 200})
        for j in range(3):
            c = cats[j % 2]
            k = len(c["keypoints"])
            x, y = rng.uniform(0, 120, 2)
            w, h = rng.uniform(30, 70, 2)
            kp = np.stack([rng.uniform(x, x + w, k), rng.uniform(y, y + h, k), np.full(k, 2)], 1)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": c["id"], "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0, "keypoints": kp.reshape(-1).tolist(), "num_keypoints": k})
    return {"images": images, "annotations": anns, "categories": cats}


def _noisy_dets(d, seed=1):
    rng = np.random.default_rng(seed)
    dets = []
    for a in d["annotations"]:
        for _ in range(2):
            box = (np.asarray(a["bbox"]) + rng.normal(0, 6, 4)).tolist()
            box[2], box[3] = abs(box[2]) + 1, abs(box[3]) + 1
            dets.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": box,
                         "score": float(rng.uniform()), "keypoints": a["keypoints"]})
    return dets


def test_box_ap_matches_pycocotools(tmp_path):
    d = _dataset()
    dets = _noisy_dets(d)
    ours = box_ap(parse_coco(d), dets)
    (tmp_path / "gt.json").write_text(json.dumps(d))
    plain = [{k: v for k, v in x.items() if k != "keypoints"} for x in dets]
    (tmp_path / "dt.json").write_text(json.dumps(plain))
    code = ("import json,sys,io,contextlib;from pycocotools.coco import COCO\n"
            "from pycocotools.cocoeval import COCOeval\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f" g=COCO('{tmp_path}/gt.json');r=g.loadRes('{tmp_path}/dt.json');e=COCOeval(g,r,'bbox');"
            "e.evaluate();e.accumulate();e.summarize()\n"
            "print(json.dumps([float(e.stats[0]),float(e.stats[1]),float(e.stats[2])]))")
    ref = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.strip().splitlines()[-1])
    assert ours["AP"] == pytest.approx(ref[0], abs=1e-9)
    assert ours["AP50"] == pytest.approx(ref[1], abs=1e-9)
    assert ours["AP75"] == pytest.approx(ref[2], abs=1e-9)
    assert 0 < ours["AP"] < 1


def _with_links(d, prob_true, prob_false):
    preds = []
    for a in d["annotations"]:
        cat = next(c for c in d["categories"] if c["id"] == a["category_id"])
        k = len(cat["keypoints"])
        edges = {tuple(sorted((i - 1, j - 1))) for i, j in cat["skeleton"]}
        links = [[i, j, prob_true if (i, j) in edges else prob_false] for i in range(k) for j in range(i + 1, k)]
        preds.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                      "score": 1.0, "keypoints": a["keypoints"], "links": links})
    return preds


def test_link_metrics_perfect_and_inverted():
    d = _dataset()
    gt = parse_coco(d)
    good = link_metrics(gt, _with_links(d, 0.9, 0.1))
    assert good["F1"] == 1.0 and good["AUC"] == 1.0 and good["AP"] == pytest.approx(1.0)
    assert set(good["categories"]) == {"a", "b"}
    bad = link_metrics(gt, _with_links(d, 0.1, 0.9))
    assert bad["recall"] == 0.0 and bad["AUC"] == 0.0
    missing = link_metrics(gt, [])  # every labelled edge missed
    assert missing["recall"] == 0.0 and missing["num_edges"] == good["num_edges"]


def test_auc_and_ap_small_example():
    y = np.array([True, False, True, False])
    p = np.array([0.9, 0.8, 0.4, 0.1])
    assert auc_roc(y, p) == pytest.approx(0.75)
    assert average_precision(y, p) == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))


def test_oracle_relabel_restores_permuted_ids():
    d = _dataset(n_images=2)
    gt = parse_coco(d)
    rng = np.random.default_rng(3)
    preds = []
    for a in d["annotations"]:
        kp = np.asarray(a["keypoints"], float).reshape(-1, 3)
        kp[:, 2] = 1.0
        preds.append({"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0,
                      "keypoints": kp[rng.permutation(len(kp))].reshape(-1).tolist()})
    assert evaluate(gt, preds, metric="pck")["PCK"] < 1.0
    fixed = oracle_relabel(gt, copy.deepcopy(preds))
    assert evaluate(gt, fixed, metric="pck")["PCK"] == 1.0


def test_eval_modules_do_not_import_torch():
    code = ("import sys, kpdet.eval.boxes, kpdet.eval.links, kpdet.eval.oracle; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
