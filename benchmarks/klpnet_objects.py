"""KLPNet on a COCO keypoints set (e.g. `kpdet synth objects`): every metric of issue 8.

    PYTHONPATH=. python benchmarks/klpnet_objects.py RUN --data val/annotations.json [--json out.json]

Prints box AP/AP50 (kpdet.eval.boxes), PCK@0.1 with predicted identities and with OracleId
(kpdet.eval.oracle), link precision/recall/F1/AUC/AP (kpdet.eval.links), overall and per
category, each with LIS on and off; plus PCK on the images where two objects of one category
overlap (box IoU > 0), where LIS acts; and the same keypoint/link figures with ground-truth boxes
instead of detections (``gt_boxes``: CKLM + identity + CLPGM alone; LIS then sees box score 1).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def predict(method, coco, batch_size: int, gt_boxes: bool = False) -> list[dict]:
    """Predictions of the whole pipeline, or (gt_boxes) of CKLM + CLPGM on the ground-truth boxes."""
    ds = method.build_dataset(coco, train=False)
    out = []
    with torch.no_grad():
        for s in range(0, len(ds), batch_size):
            images, targets, meta = method.collate([ds[i] for i in range(s, min(s + batch_size, len(ds)))])
            if not gt_boxes:
                out.extend(p.to_coco() for p in method.predict_batch(images, meta))
                continue
            bidx, n = torch.nonzero(targets["valid"].bool(), as_tuple=True)
            x = (images - method.mean) / method.std
            preds = method.objects(x, bidx, targets["boxes"][bidx, n].float(), torch.ones(len(bidx)),
                                   targets["classes"][bidx, n].long(), meta)
            out.extend(p.to_coco() for p in preds)
    return out


def overlapping_images(coco) -> set[int]:
    from kpdet.eval.boxes import _iou

    ids = set()
    for img in coco.images:
        inst = coco.instances(img["id"])
        for c in np.unique(inst.category_ids):
            b = inst.boxes[inst.category_ids == c]
            if len(b) > 1:
                iou = _iou(b, b, np.zeros(len(b), bool))
                np.fill_diagonal(iou, 0)
                if (iou > 0).any():
                    ids.add(int(img["id"]))
    return ids


def subset(coco, ids: set[int]):
    from kpdet.data.coco import CocoDataset

    return CocoDataset([i for i in coco.images if i["id"] in ids],
                       [a for a in coco.annotations if a["image_id"] in ids], coco.categories, coco.source)


def metrics(coco, preds: list[dict], overlap: set[int]) -> dict:
    from kpdet.eval import evaluate
    from kpdet.eval.boxes import box_ap
    from kpdet.eval.links import link_metrics
    from kpdet.eval.oracle import oracle_relabel

    pck = evaluate(coco, preds, metric="pck", pck_alpha=0.1)
    oracle = evaluate(coco, oracle_relabel(coco, preds), metric="pck", pck_alpha=0.1)
    boxes = box_ap(coco, preds)
    links = link_metrics(coco, preds)
    out = {"box_AP": boxes["AP"], "box_AP50": boxes["AP50"], "PCK": pck["PCK"], "PCK_oracle": oracle["PCK"],
           "link_precision": links["precision"], "link_recall": links["recall"], "link_F1": links["F1"],
           "link_AUC": links["AUC"], "link_AP": links["AP"], "categories": {}}
    for name in pck["categories"]:
        out["categories"][name] = {"box_AP50": boxes["categories"].get(name, {}).get("AP50", -1.0),
                                   "PCK": pck["categories"][name]["PCK"],
                                   "PCK_oracle": oracle["categories"][name]["PCK"],
                                   "link_F1": links["categories"].get(name, {}).get("F1", -1.0),
                                   "link_AUC": links["categories"].get(name, {}).get("AUC", -1.0)}
    if overlap:
        sub = subset(coco, overlap)
        sp = [p for p in preds if p["image_id"] in overlap]
        out["overlap_images"] = len(overlap)
        out["overlap_PCK"] = evaluate(sub, sp, metric="pck", pck_alpha=0.1)["PCK"]
        out["overlap_PCK_oracle"] = evaluate(sub, oracle_relabel(sub, sp), metric="pck", pck_alpha=0.1)["PCK"]
    return out


def main() -> None:
    from kpdet.data.coco import load_coco
    from kpdet.engine.restore import load_trained

    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--data", required=True)
    ap.add_argument("--checkpoint", default="best", choices=("best", "last"))
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    trained = load_trained(args.run, checkpoint=args.checkpoint)
    method = trained.method
    coco = load_coco(args.data)
    overlap = overlapping_images(coco)
    report = {"run": args.run, "data": args.data, "step": trained.step}
    lis = method.lis
    for label, module in (("lis_on", lis), ("lis_off", None)):
        method.lis = module
        t = time.perf_counter()
        preds = predict(method, coco, args.batch_size)
        report[label] = metrics(coco, preds, overlap)
        report[label]["predict_s"] = round(time.perf_counter() - t, 1)
        gt_preds = predict(method, coco, args.batch_size, gt_boxes=True)
        g = metrics(coco, gt_preds, overlap)
        report[label]["gt_boxes"] = {k: v for k, v in g.items() if k != "categories"}
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
