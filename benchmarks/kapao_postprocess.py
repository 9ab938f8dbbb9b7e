"""Post-processing cost of KAPAO on synthetic candidates (no trained model needed): thresholds +
NMS with and without keypoint-object fusion, batch 1, CPU. Candidates: every anchor of a
--size input; --poses pose objects (each with 5 near-duplicates) and --kp-objects keypoint
objects pass the thresholds, as after a converged model.

    python benchmarks/kapao_postprocess.py [--size 256] [--poses 10] [--kp-objects 150] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--poses", type=int, default=10)
    ap.add_argument("--kp-objects", type=int, default=150)
    ap.add_argument("--keypoints", type=int, default=17)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from kpdet.methods.kapao.config import InferenceConfig
    from kpdet.methods.kapao.decode import select
    from kpdet.methods.kapao.layout import ClassLayout
    from kpdet.schema import COCO17, KeypointSchema

    k = args.keypoints
    schema = COCO17 if k == 17 else KeypointSchema("x", tuple(f"p{i}" for i in range(k)))
    layout = ClassLayout.from_schemas({1: schema})
    owner, index = (torch.as_tensor(a) for a in layout.kp_class_table())
    g = torch.Generator().manual_seed(0)
    n = 3 * sum((args.size // s) ** 2 for s in (8, 16, 32, 64))
    s = args.size
    centres = torch.rand(args.poses, 2, generator=g) * s
    box = torch.cat([torch.rand(n, 2, generator=g) * s, torch.rand(n, 2, generator=g) * s / 4 + 4], 1)
    obj = torch.rand(n, generator=g) * 0.005
    cls = torch.rand(n, layout.num_classes, generator=g) * 0.5
    kps = torch.rand(n, k, 2, generator=g) * s
    p_idx = torch.randperm(n, generator=g)[: args.poses * 6]
    box[p_idx, :2] = centres.repeat(6, 1) + torch.randn(len(p_idx), 2, generator=g)
    box[p_idx, 2:] = s / 5
    obj[p_idx], cls[p_idx, 0] = 0.9, 0.9
    kps[p_idx] = centres.repeat(6, 1)[:, None] + torch.randn(len(p_idx), k, 2, generator=g) * s / 10
    k_idx = torch.randperm(n, generator=g)[: args.kp_objects]
    k_idx = k_idx[~torch.isin(k_idx, p_idx)]
    obj[k_idx] = 0.95
    cls[k_idx, 1 + torch.arange(len(k_idx)) % k] = 0.95
    box[k_idx, :2] = kps[p_idx[torch.arange(len(k_idx)) % len(p_idx)], torch.arange(len(k_idx)) % k]
    box[k_idx, 2:] = 0.05 * s
    cand = {"box": box[None], "obj": obj[None], "cls": cls[None], "kps": kps[None]}
    cfg = InferenceConfig()
    times = {}
    for fusion in (False, True):
        dets = select(cand, 1, owner, index, cfg, cfg.fusion_distance * s, fusion)
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            dets = select(cand, 1, owner, index, cfg, cfg.fusion_distance * s, fusion)
        times[fusion] = 1000 * (time.perf_counter() - t0) / args.repeats
        print(f"fusion {'on ' if fusion else 'off'}: {times[fusion]:.2f} ms/image, {len(dets.score)} poses, "
              f"{dets.num_fused} keypoints fused, {n} candidates")
    print(f"fusion adds {times[True] - times[False]:.2f} ms/image")


if __name__ == "__main__":
    main()
