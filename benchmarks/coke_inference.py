"""CoKe inference for many categories in one batched pass vs. one pass per category (run by hand).

    PYTHONPATH=. python benchmarks/coke_inference.py [--categories 12] [--keypoints 10] [--batch 48] \
        [--preset configs/coke/tiny.yaml] [--repeat 5] [--threads 1]

A batch of crops of mixed categories (the 12 PASCAL3D+ categories by default) goes through
the feature extractor once, then either (a) one 1×1 convolution with all categories'
prototypes, a per-crop gather of its category's response maps and one argmax (kpdet's
decode), or (b) the per-category loop a one-model-per-category implementation would run
(select the crops of a category, convolve with its prototypes, decode). Prints the time of
the response+decode stage and of the whole forward+decode, best of --repeat, and the ratio;
both paths must return the same keypoints.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    from kpdet.config import load_config
    from kpdet.methods import get_method
    from kpdet.methods.coke.method import prototype_responses
    from kpdet.schema import KeypointSchema

    ap = argparse.ArgumentParser()
    ap.add_argument("--categories", type=int, default=12)
    ap.add_argument("--keypoints", type=int, default=10)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--preset", default="configs/coke/tiny.yaml")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    schemas = {c + 1: KeypointSchema(f"c{c}", tuple(f"k{i}" for i in range(args.keypoints)))
               for c in range(args.categories)}
    cfg = load_config(args.preset, resolve_paths=False).method
    method = get_method("coke").from_config(cfg, schemas).eval()
    bank = method.keypoint_bank
    bank.prototypes.copy_(torch.nn.functional.normalize(torch.randn_like(bank.prototypes), dim=1))
    bank.count.fill_(1)
    images = torch.rand(args.batch, 3, *cfg.input_size)
    cats = [1 + i % args.categories for i in range(args.batch)]
    meta = [{"image_id": i, "category_id": c, "crop_to_image": np.array([[1.0, 0, 0], [0, 1.0, 0]])}
            for i, c in enumerate(cats)]

    def batched(features):
        return method.decode({"features": features}, meta)

    def per_category(features):
        out = [None] * len(meta)
        for c in sorted(set(cats)):
            idx = [i for i, ci in enumerate(cats) if ci == c]
            k = method.layout.index(c)
            rows = method.row_table[k, : method.layout.sizes[k]]
            maps = prototype_responses(features[idx], bank.prototypes[rows])  # (b_c, K, H, W)
            scores = torch.exp((maps - 1) / cfg.temperature)
            pts, _ = method.decoder.decode(scores, torch.as_tensor(np.stack([meta[i]["crop_to_image"] for i in idx]),
                                                                   dtype=torch.float32))
            for j, i in enumerate(idx):
                out[i] = pts[j].numpy()
        return out

    def best(fn):
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t)
        return min(times), result

    with torch.no_grad():
        features = method(images)["features"]
        t_batched, preds = best(lambda: batched(features))
        t_loop, loop_pts = best(lambda: per_category(features))
        t_fwd, _ = best(lambda: method(images))
    for p, q in zip(preds, loop_pts):
        assert np.allclose(p.keypoints[:, :2], q, atol=1e-4)
    h, w = features.shape[-2:]
    print(f"{args.categories} categories × {args.keypoints} keypoints, batch {args.batch}, "
          f"{tuple(cfg.input_size)} crops, {h}×{w} feature maps, {args.threads} thread(s)")
    print(f"responses+decode  batched {1e3 * t_batched:8.2f} ms   per-category loop {1e3 * t_loop:8.2f} ms   "
          f"ratio {t_loop / t_batched:5.2f}×")
    print(f"forward+decode    batched {1e3 * (t_fwd + t_batched):8.2f} ms   per-category loop "
          f"{1e3 * (t_fwd + t_loop):8.2f} ms   ({1e3 * (t_fwd + t_batched) / args.batch:.2f} ms per crop batched)")


if __name__ == "__main__":
    main()
