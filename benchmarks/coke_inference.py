"""CoKe inference for many categories in one batched pass vs. one pass per category (run by hand).

    PYTHONPATH=. python benchmarks/coke_inference.py [--categories 12] [--keypoints 10] [--batch 48] \
        [--preset configs/coke/tiny.yaml] [--repeat 5] [--threads 1]

A batch of crops of mixed categories (the 12 PASCAL3D+ categories by default) goes through
the feature extractor once; the response-map + argmax stage is then timed three ways:
(a) kpdet's decode: each crop's own prototypes as its 1×1 kernels in one batched product;
(b) one 1×1 convolution with all categories' prototypes, then each crop's block;
(c) the loop a one-model-per-category implementation runs (select the category's crops,
convolve with its prototypes, argmax). Best of --repeat; all three must agree. Also prints
the full decode (with Prediction objects) and the forward pass.
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

    cat_idx = torch.as_tensor([method.layout.index(c) for c in cats])
    affines = torch.as_tensor(np.stack([m["crop_to_image"] for m in meta]), dtype=torch.float32)

    def batched(features):
        return method.locate(features, cat_idx, affines)[0]

    def shared_conv(features):  # all P prototypes as one convolution, then each crop's block
        maps = prototype_responses(features, bank.prototypes)[torch.arange(len(cats))[:, None],
                                                             method.row_table[cat_idx]]
        return method.decoder.decode(torch.exp((maps - 1) / cfg.temperature), affines)[0]

    def per_category(features):
        out = torch.zeros(len(cats), method.layout.max_keypoints, 2)
        for c in sorted(set(cats)):
            idx = torch.as_tensor([i for i, ci in enumerate(cats) if ci == c])
            k = method.layout.index(c)
            rows = method.row_table[k, : method.layout.sizes[k]]
            maps = prototype_responses(features[idx], bank.prototypes[rows])  # (b_c, K, H, W)
            pts, _ = method.decoder.decode(torch.exp((maps - 1) / cfg.temperature), affines[idx])
            out[idx, : len(rows)] = pts
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
        t_batched, pts = best(lambda: batched(features))
        t_shared, pts_shared = best(lambda: shared_conv(features))
        t_loop, pts_loop = best(lambda: per_category(features))
        t_decode, _ = best(lambda: method.decode({"features": features}, meta))
        t_fwd, _ = best(lambda: method(images))
    assert torch.allclose(pts, pts_shared, atol=1e-4) and torch.allclose(pts, pts_loop, atol=1e-4)
    h, w = features.shape[-2:]
    print(f"{args.categories} categories × {args.keypoints} keypoints, batch {args.batch}, "
          f"{tuple(cfg.input_size)} crops, {h}×{w} feature maps, {args.threads} thread(s), best of {args.repeat}")
    print(f"responses+argmax: batched per-crop kernels {1e3 * t_batched:7.2f} ms | one conv with all prototypes "
          f"{1e3 * t_shared:7.2f} ms ({t_shared / t_batched:.2f}×) | per-category loop {1e3 * t_loop:7.2f} ms "
          f"({t_loop / t_batched:.2f}×)")
    print(f"full decode (→ Prediction objects) {1e3 * t_decode:7.2f} ms; forward {1e3 * t_fwd:7.2f} ms; "
          f"forward+decode {1e3 * (t_fwd + t_decode) / args.batch:.2f} ms per crop")


if __name__ == "__main__":
    main()
