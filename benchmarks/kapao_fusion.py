"""KAPAO ablation on a trained run: OKS AP with keypoint-object fusion on and off (KAPAO Table 4)
and the post-processing time per image (network outputs → predictions: decode, thresholds, NMS, and the
fusion on top), CPU, batch 1.

    python benchmarks/kapao_fusion.py RUN VAL_JSON [--threads 2] [--limit N] [--set inference.tta=true]
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("val")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--tta", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from kpdet.data.coco import load_coco
    from kpdet.engine.restore import load_trained
    from kpdet.eval import evaluate

    method = load_trained(args.run).method
    method.cfg.inference.tta = args.tta
    coco = load_coco(args.val)
    ds = method.build_dataset(coco, train=False)
    n = min(len(ds), args.limit or len(ds))
    preds = {True: [], False: []}
    post = {True: 0.0, False: 0.0}
    post_cpu = {True: 0.0, False: 0.0}  # CPU time of this process: other work on the core does not count
    forward = 0.0
    with torch.no_grad():
        for i in range(n):
            images, _, meta = method.collate([ds[i]])
            t0 = time.perf_counter()
            outputs = method(images)
            forward += time.perf_counter() - t0
            for fusion in (True, False):
                t0, c0 = time.perf_counter(), time.process_time()
                if args.tta:
                    p = method.predict_batch(images, meta, fusion=fusion)
                else:
                    p = method.decode(outputs, meta, fusion=fusion)
                post[fusion] += time.perf_counter() - t0
                post_cpu[fusion] += time.process_time() - c0
                preds[fusion].extend(x.to_coco() for x in p)
    print(f"images {n}, threads {args.threads}, tta {args.tta}")
    print(f"forward            {1000 * forward / n:8.2f} ms/image")
    for fusion in (False, True):
        ap_ = evaluate(coco, preds[fusion], metric="oks") if preds[fusion] else {"AP": 0.0, "AP50": 0.0}
        print(f"fusion {'on ' if fusion else 'off'}  AP {ap_['AP']:.4f}  AP50 {ap_['AP50']:.4f}  "
              f"post-processing {1000 * post[fusion] / n:6.2f} ms/image (CPU time {1000 * post_cpu[fusion] / n:6.2f})")
    print(f"fusion adds {1000 * (post[True] - post[False]) / n:.2f} ms/image")


if __name__ == "__main__":
    main()
