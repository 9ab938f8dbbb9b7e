"""Decoding speed of CCM's post-processing chain (Sec. 5, Table 9) in kpdet, per instance.

Chain: Gaussian filter (k=11) → flip average with sub-pixel shift (Eq. 25) → argmax → parabola
(Eq. 13) → Soft-NMS fusion (Eq. 23–24) across the instances of each image, on 17 × 64 × 48
heatmaps. The peer, measured in the same run on the same heatmaps, is a straightforward
per-instance / per-keypoint NumPy + OpenCV implementation of the same steps (the way the
reference top-down codebases post-process, one map and one pose at a time).

    PYTHONPATH=. python benchmarks/ccm_decode_speed.py --instances 512 --per-image 4 --threads 2

mmpose's DARK decoding is not measured here: mmpose needs mmcv, which builds from source on this
machine (~11 min), kept out of the project's dependencies.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch

from kpdet.codecs.heatmap import FlipTest, GaussianFilter, HeatmapDecoder, Parabola
from kpdet.codecs.pose_nms import PoseNMS
from kpdet.ops.flip import flip_maps
from kpdet.schema import COCO17


def make_heatmaps(n: int, k: int = 17, h: int = 64, w: int = 48, seed: int = 0) -> torch.Tensor:
    """(n, k, h, w) Gaussians (sigma 2) with sub-pixel centres; every 4 instances are jittered copies of
    one pose (duplicate boxes for the NMS to fuse)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([3, 3], [w - 4, h - 4], (n // 4 + 1, k, 2))
    mu = np.repeat(base, 4, axis=0)[:n] + rng.normal(0, 0.3, (n, k, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    maps = np.exp(-((xx - mu[..., 0, None, None]) ** 2 + (yy - mu[..., 1, None, None]) ** 2) / 8.0)
    return torch.as_tensor(maps, dtype=torch.float32)


def noisy(maps: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return maps + 0.03 * torch.randn(maps.shape, generator=g)


def kpdet_chain(plain: torch.Tensor, mirrored_raw: torch.Tensor, flip_index: torch.Tensor, groups: torch.Tensor,
                sigmas: torch.Tensor, r: float) -> tuple[torch.Tensor, torch.Tensor]:
    decoder = HeatmapDecoder(4, Parabola(), FlipTest.subpixel_shift(r, 4), GaussianFilter(11))
    outputs = iter([plain, mirrored_raw])
    crops = torch.empty(len(plain), 3, 1, 1)  # the model is replayed: its crop flip is not decoding work
    heatmaps = decoder.heatmaps(lambda _: next(outputs), crops, flip_index)
    points, maxvals = decoder.decode(heatmaps)
    scores = maxvals.mean(1)
    areas = torch.full_like(scores, 48.0 * 64.0 * 16)
    return PoseNMS("soft", 0.9)(points.double(), scores.double(), areas.double(), groups, sigmas)


def loop_chain(plain: np.ndarray, mirrored_raw: np.ndarray, flip_index: np.ndarray, groups: np.ndarray,
               sigmas: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    n, k, h, w = plain.shape
    shift = 1.0 / r - 1.0 + 0.25
    points = np.zeros((n, k, 2))
    scores = np.zeros(n)
    for i in range(n):
        mirrored = mirrored_raw[i, flip_index, :, ::-1]
        for j in range(k):
            m = mirrored[j]
            shifted = np.empty_like(m)
            lo = int(np.floor(shift))
            frac = shift - lo
            cols = np.clip(np.arange(w) - lo - 1, 0, w - 1), np.clip(np.arange(w) - lo, 0, w - 1)
            shifted[:] = m[:, cols[0]] * frac + m[:, cols[1]] * (1 - frac)
            hm = 0.5 * (plain[i, j] + shifted)
            peak = hm.max()
            hm = cv2.GaussianBlur(hm, (11, 11), 0, borderType=cv2.BORDER_REPLICATE)
            hm *= peak / max(hm.max(), 1e-12)
            y, x = divmod(int(hm.argmax()), w)
            px, py = float(x), float(y)
            if 0 < x < w - 1:
                den = hm[y, x - 1] + hm[y, x + 1] - 2 * hm[y, x]
                if den < 0:
                    px += (hm[y, x - 1] - hm[y, x + 1]) / (2 * den)
            if 0 < y < h - 1:
                den = hm[y - 1, x] + hm[y + 1, x] - 2 * hm[y, x]
                if den < 0:
                    py += (hm[y - 1, x] - hm[y + 1, x]) / (2 * den)
            points[i, j] = ((px + 0.5) * 4 - 0.5, (py + 0.5) * 4 - 0.5)
            scores[i] += peak / k
    var = (2 * sigmas) ** 2
    area = 48.0 * 64.0 * 16
    keep = np.zeros(n, bool)
    out = points.copy()
    for g in np.unique(groups):
        idx = np.nonzero(groups == g)[0]
        order = list(idx[np.argsort(-scores[idx], kind="stable")])
        while order:
            i, rest = order[0], order[1:]
            oks = np.array([np.exp(-((points[i] - points[j]) ** 2).sum(-1) / var / area / 2).mean() for j in rest])
            over = [j for j, o in zip(rest, oks) if o > 0.9]
            wts = [1.0] + [o for o in oks if o > 0.9]
            out[i] = sum(wt * points[j] for wt, j in zip(wts, [i] + over)) / sum(wts)
            keep[i] = True
            order = [j for j, o in zip(rest, oks) if o <= 0.9]
    return keep, out


def bench(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=512)
    ap.add_argument("--per-image", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--r", type=float, default=1.25)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    n = args.instances
    clean = make_heatmaps(n)
    plain, mirrored = noisy(clean, 1), noisy(clean, 2)
    flip_index = torch.as_tensor(COCO17.flip_index)
    groups = torch.arange(n) // args.per_image
    sigmas = torch.as_tensor(COCO17.sigma_array(), dtype=torch.float64)
    mirrored_raw = flip_maps(mirrored, flip_index)  # what the model would return on the mirrored crop

    def ours():
        return kpdet_chain(plain, mirrored_raw, flip_index, groups, sigmas, args.r)

    def peer():
        return loop_chain(plain.numpy(), mirrored_raw.numpy(), flip_index.numpy(), groups.numpy(), sigmas.numpy(),
                          args.r)

    k1, p1 = ours()
    k2, p2 = peer()
    agree = np.abs(p1.numpy()[k1.numpy()] - p2[k2]).max() if k1.sum() == k2.sum() else float("nan")
    t_ours = bench(ours, args.repeat)
    t_peer = bench(peer, max(1, args.repeat // 2))
    print(f"instances {n} ({args.per_image} per image), 17×64×48 heatmaps, {args.threads} threads, r={args.r}")
    print(f"kpdet batched chain : {1e3 * t_ours / n:.4f} ms/instance ({1e3 * t_ours:.1f} ms total)")
    print(f"per-instance loops  : {1e3 * t_peer / n:.4f} ms/instance ({1e3 * t_peer:.1f} ms total)")
    print(f"speed-up            : {t_peer / t_ours:.1f}×; kept {int(k1.sum())} vs {int(k2.sum())}, "
          f"max point difference {agree:.4f} px")


if __name__ == "__main__":
    main()
