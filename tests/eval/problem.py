"""Deterministic synthetic keypoint problems: ground truth with crowd regions, hidden and
unlabelled keypoints, a wide range of sizes, and predictions with noise, misses,
duplicates, false positives, tied scores and images with more than 20 detections."""

from __future__ import annotations

import copy
import numpy as np

from kpdet.schema import COCO17


def make_problem(n_images: int, seed: int = 0, *, people: float = 2.2, dets_per_gt: float = 1.6,
                 categories: tuple[tuple[int, str, int], ...] = ((1, "person", 17),),
                 sigmas: bool = True, with_bbox: bool = False) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    cats = []
    for cid, name, k in categories:
        cat = {"id": cid, "name": name, "supercategory": name,
               "keypoints": list(COCO17.keypoints[:k]) if k <= 17 else [f"kp{i}" for i in range(k)],
               "skeleton": []}
        if sigmas:
            cat["sigmas"] = list(COCO17.sigmas[:k]) if k <= 17 else [0.05] * k
        cats.append(cat)
    img_ids = rng.choice(np.arange(1, 50 * n_images + 1), n_images, replace=False)
    images, anns, preds = [], [], []
    ann_id = 1
    for iid in img_ids:
        iid = int(iid)
        images.append({"id": iid, "file_name": f"{iid}.jpg", "width": 640, "height": 480,
                       "crowdIndex": round(float(rng.random()), 2)})
        n = int(rng.poisson(people)) if rng.random() > 0.03 else int(rng.integers(15, 30))
        for _ in range(n):
            cid, _, k = categories[int(rng.integers(len(categories)))]
            size = float(np.exp(rng.uniform(np.log(12), np.log(400))))
            w, h = size * rng.uniform(0.4, 1.0), size
            x0, y0 = rng.uniform(0, 640 - w / 2), rng.uniform(0, 480 - h / 2)
            xy = np.stack([x0 + rng.random(k) * w, y0 + rng.random(k) * h], 1).round(2)
            v = rng.choice([0, 1, 2], size=k, p=[0.25, 0.15, 0.6])
            if rng.random() < 0.07:
                v[:] = 0  # an instance with no labelled keypoint: ignored by COCO
            kp = np.concatenate([np.where(v[:, None] > 0, xy, 0), v[:, None]], 1)
            area = round(w * h * rng.uniform(0.4, 0.8), 2)
            ann = {"id": ann_id, "image_id": iid, "category_id": cid, "iscrowd": 0,
                   "bbox": [round(x0, 2), round(y0, 2), round(w, 2), round(h, 2)], "area": area,
                   "num_keypoints": int((v > 0).sum()), "keypoints": kp.reshape(-1).tolist()}
            if rng.random() < 0.5:
                ann["occlusion_level"] = int(rng.integers(0, 4))
            anns.append(ann)
            ann_id += 1
            # predictions: a miss, one or more noisy copies
            for copy_i in range(int(rng.poisson(dets_per_gt))):
                noise = size * rng.uniform(0.001, 0.06) * (1 + copy_i)
                pxy = xy + rng.normal(0, noise, xy.shape)
                preds.append(_pred(rng, iid, cid, pxy, with_bbox))
        if rng.random() < 0.12:  # a crowd region, and detections inside it
            cid, _, k = categories[0]
            w, h = rng.uniform(50, 300), rng.uniform(50, 200)
            x0, y0 = rng.uniform(0, 400), rng.uniform(0, 300)
            anns.append({"id": ann_id, "image_id": iid, "category_id": cid, "iscrowd": 1,
                         "bbox": [round(x0, 2), round(y0, 2), round(w, 2), round(h, 2)],
                         "area": round(w * h * 0.6, 2), "num_keypoints": 0, "keypoints": [0] * (3 * k)})
            ann_id += 1
            for _ in range(int(rng.integers(1, 4))):
                pxy = np.stack([x0 + rng.random(k) * w, y0 + rng.random(k) * h], 1)
                preds.append(_pred(rng, iid, cid, pxy, with_bbox))
        for _ in range(int(rng.poisson(0.8))):  # false positives anywhere
            cid, _, k = categories[int(rng.integers(len(categories)))]
            s = float(np.exp(rng.uniform(np.log(10), np.log(300))))
            pxy = np.stack([rng.uniform(0, 600) + rng.random(k) * s, rng.uniform(0, 450) + rng.random(k) * s], 1)
            preds.append(_pred(rng, iid, cid, pxy, with_bbox))
    rng.shuffle(preds)
    gt = {"images": images, "annotations": anns, "categories": cats}
    return gt, preds


def _pred(rng, iid: int, cid: int, xy: np.ndarray, with_bbox: bool) -> dict:
    k = len(xy)
    kps = rng.random(k).round(3)
    kps[rng.random(k) < 0.05] = 0.0
    p = {"image_id": iid, "category_id": cid,
         "keypoints": np.concatenate([xy.round(2), kps[:, None]], 1).reshape(-1).tolist(),
         "score": round(float(rng.random()), 2)}  # two decimals: many tied scores
    if with_bbox:
        lo, hi = xy.min(0), xy.max(0)
        p["bbox"] = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    return p


def pycocotools_stats(gt: dict, preds: list[dict], sigmas, *, cat_ids=None, module: str = "pycocotools",
                      iou_type: str = "keypoints", **kwargs) -> np.ndarray:
    """Reference statistics (prints suppressed)."""
    import contextlib
    import importlib
    import io

    coco_mod = importlib.import_module(f"{module}.coco")
    eval_mod = importlib.import_module(f"{module}.cocoeval")
    with contextlib.redirect_stdout(io.StringIO()):
        cg = coco_mod.COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        cd = cg.loadRes(copy.deepcopy(preds))
        if module == "xtcocotools":
            ev = eval_mod.COCOeval(cg, cd, iou_type, np.asarray(sigmas), **kwargs)
        else:
            ev = eval_mod.COCOeval(cg, cd, iou_type)
            ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def noisy_predictions(gt: dict, seed: int = 0, *, with_bbox: bool = False) -> list[dict]:
    """Predictions made from a real ground truth: noisy copies, misses, duplicates, false positives."""
    rng = np.random.default_rng(seed)
    preds = []
    for a in gt["annotations"]:
        if a.get("iscrowd"):
            continue
        k = len(a["keypoints"]) // 3
        kp = np.asarray(a["keypoints"], np.float64).reshape(k, 3)
        scale = float(np.sqrt(max(a["bbox"][2] * a["bbox"][3], 1.0)))
        # unlabelled keypoints (0, 0) are predicted somewhere inside the box
        xy = np.where(kp[:, 2:] > 0, kp[:, :2], np.asarray(a["bbox"][:2]) + rng.random((k, 2)) * a["bbox"][2:])
        if rng.random() < 0.15:
            continue  # a miss
        for j in range(1 + int(rng.random() < 0.3)):  # sometimes a duplicate
            preds.append(_pred(rng, a["image_id"], a["category_id"],
                               xy + rng.normal(0, scale * rng.uniform(0.005, 0.08) * (1 + 2 * j), xy.shape),
                               with_bbox))
    for img in gt["images"]:
        cat = gt["categories"][0]
        k = len(cat["keypoints"])
        for _ in range(int(rng.integers(0, 3))):
            s = rng.uniform(20, 200)
            xy = np.stack([rng.uniform(0, 400) + rng.random(k) * s, rng.uniform(0, 300) + rng.random(k) * s], 1)
            preds.append(_pred(rng, img["id"], cat["id"], xy, with_bbox))
    return preds
