"""CCM Table 7/8 on our data: post-processing variants on one trained top-down model.

The model runs once on the plain and the mirrored crops of every box; each row then only
re-decodes those heatmaps: refinement {none, 0.25, parabola, paraboloid, dark} × pose NMS
{OKS-NMS, Soft-NMS} × flip shift × Gaussian filter. To give the pose NMS something to do, the
boxes are detections simulated from the ground truth: ``--dup-boxes`` jittered copies per person
(centre/size noise ``--jitter`` of the box size, score uniform in [0.6, 1]).

Flip shift rows use CCM's ratio r (Eq. 25) mapped into kpdet's convention by
:meth:`FlipTest.subpixel_shift`: ``1/r=0`` is the paper's unshifted flip, r = 1 the classic 1-px
shift, r = 1.25 the paper's best, r = 4/3 exact alignment at stride 4.

    PYTHONPATH=. python benchmarks/ccm_postprocess_ablation.py RUN --data val/annotations.json
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch

from kpdet.codecs.heatmap import FlipTest, GaussianFilter, HeatmapDecoder, build_refine
from kpdet.codecs.pose_nms import PoseNMS
from kpdet.data.coco import load_coco
from kpdet.engine.restore import load_trained
from kpdet.eval import evaluate


def simulated_detections(coco, per_person: int, jitter: float, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    dets = []
    for a in coco.annotations:
        if a.get("iscrowd") or a["bbox"][2] <= 0 or a["bbox"][3] <= 0:
            continue
        x, y, w, h = a["bbox"]
        for _ in range(per_person):
            cx, cy = x + w / 2 + rng.normal(0, jitter) * w, y + h / 2 + rng.normal(0, jitter) * h
            s = np.exp(rng.normal(0, jitter, 2))
            dets.append({"image_id": a["image_id"], "category_id": a["category_id"],
                         "bbox": [cx - w * s[0] / 2, cy - h * s[1] / 2, w * s[0], h * s[1]],
                         "score": float(rng.uniform(0.6, 1.0))})
    return dets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--data", required=True)
    ap.add_argument("--dup-boxes", type=int, default=3)
    ap.add_argument("--jitter", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--refines", default="none,quarter,parabola,paraboloid,dark")
    ap.add_argument("--flips", default="no flip,1/r=0,r=1,r=1.25,r=4/3")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    trained = load_trained(args.run)
    method = trained.method
    coco = load_coco(args.data)
    ds = method.build_dataset(coco, train=False, boxes=simulated_detections(coco, args.dup_boxes, args.jitter))
    t0 = time.time()
    plain, mirrored, metas = [], [], []
    with torch.no_grad():
        for s in range(0, len(ds), args.batch_size):
            images, _, meta = method.collate([ds[i] for i in range(s, min(s + args.batch_size, len(ds)))])
            plain.append(method(images)["heatmaps"])
            mirrored.append(method(images.flip(-1))["heatmaps"])
            metas += meta
    plain, mirrored = torch.cat(plain), torch.cat(mirrored)
    stride = method.cfg.heatmap_stride
    print(f"{len(ds)} boxes ({args.dup_boxes} per person), forward {time.time() - t0:.0f}s; "
          f"model {trained.checkpoint} (step {trained.step})")
    flips = {"no flip": None, "1/r=0": FlipTest(-1.0 + 1.0 / stride), "r=1": FlipTest.subpixel_shift(1.0, stride),
             "r=1.25": FlipTest.subpixel_shift(1.25, stride), "r=4/3": FlipTest.subpixel_shift(stride / (stride - 1),
                                                                                                 stride)}
    print(f"{'refine':<11} {'NMS':<5} {'flip':<8} {'GF':<3} {'AP':>6} {'AP50':>6} {'AP75':>6} {'AR':>6}")
    for refine, flip, nms, gf in itertools.product(args.refines.split(","), args.flips.split(","), ["oks", "soft"],
                                                   [False, True]):
        dec = HeatmapDecoder(stride, build_refine(refine), flips[flip], GaussianFilter(11) if gf else None)
        outputs = iter([plain, mirrored])
        heatmaps = dec.heatmaps(lambda _: next(outputs), plain, method.flip_index)
        method.decoder, method.pose_nms = dec, PoseNMS(nms, method.cfg.decoder.nms_threshold)
        preds = []
        for s in range(0, len(metas), 512):
            preds += method.decode({"heatmaps": heatmaps[s:s + 512]}, metas[s:s + 512])
        res = evaluate(coco, [p.to_coco() for p in method.postprocess(preds)], metric="oks")
        print(f"{refine:<11} {nms:<5} {flip:<8} {'y' if gf else '-':<3} {100 * res['AP']:6.1f} "
              f"{100 * res['AP50']:6.1f} {100 * res['AP75']:6.1f} {100 * res['AR']:6.1f}", flush=True)


if __name__ == "__main__":
    main()
