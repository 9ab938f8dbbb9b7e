"""Decoding speed of CCM's post-processing chain (Sec. 5, Table 9) in kpdet, per instance.

Chain: flip average with sub-pixel shift (Eq. 25) → Gaussian filter (k = 11) → argmax → parabola
(Eq. 13) → Soft-NMS fusion (Eq. 23–24) across the instances of each image, on 17 × 64 × 48
heatmaps, at batch sizes of 1, 32 and 256 instances (--sizes). Peers measured in the same run
on the same heatmaps:

- ``loops``: the same steps per instance and per keypoint in NumPy + OpenCV, the way the reference
  top-down codebases post-process (one map, one pose at a time); its points must agree with ours;
- ``mmpose``: mmpose 1.3.2's DARK decoding (``MSRAHeatmap(unbiased=True)``, one instance per call,
  as its heads decode), alone and after mmpose's flip test, run by benchmarks/mmpose_dark_peer.py
  under --mmpose-python (an environment of its own: mmpose and mmcv are never kpdet dependencies)
  on the heatmaps saved as .npy. kpdet's "DARK" (Gaussian filter + DARK step, no flip, no NMS) and
  "flip + DARK" rows decode the same heatmaps for the comparison; their keypoints are compared
  with mmpose's (mmpose takes the argmax before the filter, kpdet after it, and pads the filter
  with zeros where kpdet replicates the border, so they differ slightly).

Times are the best of --repeat samples of process CPU time (robust to other processes on the
core) and of wall time; ms per instance = time / batch size.

    PYTHONPATH=. python benchmarks/ccm_decode_speed.py --threads 2 \\
        [--mmpose-python /work/benchenv-ccmspeed/bin/python] [--profile] [--blur-variants]

The goal (issue 4) is ≤ 0.3 ms per instance on 2 CPU cores for the full chain.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from kpdet.codecs.heatmap import Dark, FlipTest, GaussianFilter, HeatmapDecoder, Parabola
from kpdet.codecs.pose_nms import PoseNMS
from kpdet.ops.blur import banded_product, blur_matrix
from kpdet.ops.flip import flip_maps
from kpdet.schema import COCO17

STRIDE = 4
DEFAULT_MMPOSE_PYTHON = "/work/benchenv-ccmspeed/bin/python"


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


def replay(*outputs: torch.Tensor):
    """A model_fn that returns the given maps in turn: the model is replayed, its crop flip is not
    decoding work (the crops are a (B, 3, 1, 1) stand-in)."""
    it = iter(outputs)
    return lambda _: next(it)


def kpdet_chain(plain, mirrored_raw, flip_index, groups, sigmas, r):
    decoder = HeatmapDecoder(STRIDE, Parabola(), FlipTest.subpixel_shift(r, STRIDE), GaussianFilter(11))
    points, maxvals = decoder.predict(replay(plain, mirrored_raw), torch.empty(len(plain), 3, 1, 1), flip_index)
    scores = maxvals.mean(1)
    areas = torch.full_like(scores, 48.0 * 64.0 * STRIDE**2)
    return PoseNMS("soft", 0.9)(points, scores, areas, groups, sigmas)


def kpdet_dark(plain, mirrored_raw, flip_index, flip: bool):
    decoder = HeatmapDecoder(STRIDE, Dark(), FlipTest(1.0) if flip else None, GaussianFilter(11))
    return decoder.predict(replay(plain, mirrored_raw), torch.empty(len(plain), 3, 1, 1), flip_index)[0]


def loop_chain(plain: np.ndarray, mirrored_raw: np.ndarray, flip_index: np.ndarray, groups: np.ndarray,
               sigmas: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    n, k, h, w = plain.shape
    shift = 1.0 / r - 1.0 + 1.0 / STRIDE
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
            points[i, j] = ((px + 0.5) * STRIDE - 0.5, (py + 0.5) * STRIDE - 0.5)
            scores[i] += peak / k
    var = (2 * sigmas) ** 2
    area = 48.0 * 64.0 * STRIDE**2
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


def timed(fn, repeat: int, inner: int) -> tuple[float, float]:
    """Best-of-``repeat`` CPU and wall seconds of one call (each sample averages ``inner`` calls)."""
    cpu, wall = float("inf"), float("inf")
    fn()
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(inner):
            fn()
        cpu = min(cpu, (time.process_time() - c) / inner)
        wall = min(wall, (time.perf_counter() - w) / inner)
    return cpu, wall


def run_mmpose(python: str, plain: torch.Tensor, mirrored_raw: torch.Tensor, flip_index: torch.Tensor,
               sizes: list[int], repeat: int, threads: int) -> tuple[dict | None, np.ndarray | None, str]:
    if not Path(python).exists():
        return None, None, f"no mmpose environment at {python}"
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/plain.npy", plain.numpy())
        np.save(f"{tmp}/mirrored.npy", mirrored_raw.numpy())
        cmd = [python, str(Path(__file__).with_name("mmpose_dark_peer.py")), "--plain", f"{tmp}/plain.npy",
               "--mirrored", f"{tmp}/mirrored.npy", "--flip-index", json.dumps(flip_index.tolist()),
               "--sizes", *map(str, sizes), "--repeat", str(repeat), "--threads", str(threads),
               "--out-keypoints", f"{tmp}/kp.npy"]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            return None, None, f"mmpose peer failed: {proc.stderr.strip().splitlines()[-1:]}"
        return json.loads(proc.stdout.strip().splitlines()[-1]), np.load(f"{tmp}/kp.npy"), ""


def blur_variants(n: int, repeat: int) -> None:
    """CPU ms per instance of one 11-tap separable filter (borders replicated) of n × 17 maps of 64 × 48,
    about one chunk of the peak search: kpdet's and the alternatives it was chosen over."""
    x = torch.rand(n * 17, 64, 48)
    gx, gy = blur_matrix(48, 11, 2.0), blur_matrix(64, 11, 2.0)
    g = torch.exp(-torch.arange(-5.0, 6.0) ** 2 / 8)
    g = g / g.sum()

    def banded():  # kpdet (kpdet.ops.peak_search): two banded products, the result stored (W, N, H)
        along_x = banded_product(gx, x.reshape(-1, 48).T, 5, x.new_empty(48, len(x) * 64))
        out = x.new_empty(48 * len(x), 64)
        return banded_product(gy, along_x.view(-1, 64).T, 5, out.T)

    def dense():
        return (torch.matmul(gx, x.transpose(1, 2)).reshape(-1, 64) @ gy.T).reshape(-1, 48, 64)

    def depthwise():
        p = F.pad(x[None], (5, 5, 5, 5), mode="replicate")[0][:, None]
        return F.conv2d(F.conv2d(p, g.view(1, 1, 1, 11)), g.view(1, 1, 11, 1))

    def depthwise_grouped():
        p = F.pad(x.reshape(n, 17, 64, 48), (5, 5, 5, 5), mode="replicate")
        out = F.conv2d(p, g.view(1, 1, 1, 11).expand(17, 1, 1, 11).contiguous(), groups=17)
        return F.conv2d(out, g.view(1, 1, 11, 1).expand(17, 1, 11, 1).contiguous(), groups=17)

    def shifted_sums():
        p = F.pad(x[None], (5, 5, 5, 5), mode="replicate")[0]
        rows = sum(float(g[t]) * p[:, :, t:t + 48] for t in range(11))
        return sum(float(g[t]) * rows[:, t:t + 64] for t in range(11))

    for name, fn in [("banded products (kpdet)", banded), ("dense products", dense), ("1-channel conv2d", depthwise),
                     ("depthwise conv2d, groups=17", depthwise_grouped), ("11 shifted sums per axis", shifted_sums)]:
        cpu, _ = timed(fn, repeat, 4)
        print(f"  blur {name:30s} {1e3 * cpu / n:.4f} ms/instance (CPU)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--per-image", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--r", type=float, default=1.25)
    ap.add_argument("--mmpose-python", default=DEFAULT_MMPOSE_PYTHON)
    ap.add_argument("--no-loops", action="store_true", help="skip the NumPy/OpenCV loop peer")
    ap.add_argument("--profile", action="store_true", help="torch.profiler table of the chain at the largest size")
    ap.add_argument("--blur-variants", action="store_true", help="time alternative filter implementations")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    big = max(args.sizes)
    clean = make_heatmaps(big)
    plain_all, mirrored = noisy(clean, 1), noisy(clean, 2)
    flip_index = torch.as_tensor(COCO17.flip_index)
    sigmas = torch.as_tensor(COCO17.sigma_array(), dtype=torch.float32)
    mirrored_all = flip_maps(mirrored, flip_index)  # what the model would return on the mirrored crop
    print(f"17×64×48 heatmaps, {args.per_image} instances per image, {args.threads} threads, r={args.r}, "
          f"torch {torch.__version__}; CPU / wall ms per instance, best of {args.repeat}")

    mm, mm_points, why = run_mmpose(args.mmpose_python, plain_all, mirrored_all, flip_index, args.sizes,
                                    args.repeat, args.threads)
    for n in args.sizes:
        plain, mirrored_raw = plain_all[:n], mirrored_all[:n]
        groups = torch.arange(n) // args.per_image
        inner = max(1, 64 // n)
        rows = {
            "kpdet full chain": timed(lambda: kpdet_chain(plain, mirrored_raw, flip_index, groups, sigmas, args.r),
                                      args.repeat, inner),
            "kpdet DARK": timed(lambda: kpdet_dark(plain, mirrored_raw, flip_index, False), args.repeat, inner),
            "kpdet flip + DARK": timed(lambda: kpdet_dark(plain, mirrored_raw, flip_index, True), args.repeat,
                                       inner),
        }
        if not args.no_loops:
            np_args = (plain.numpy(), mirrored_raw.numpy(), flip_index.numpy(), groups.numpy(),
                       sigmas.double().numpy(), args.r)
            rows["loops full chain"] = timed(lambda: loop_chain(*np_args), max(1, args.repeat // 2), inner)
        if mm is not None:
            rows["mmpose DARK"] = tuple(mm["sizes"][str(n)]["dark"])
            rows["mmpose flip + DARK"] = tuple(mm["sizes"][str(n)]["flip_dark"])
        print(f"batch {n}:")
        for name, (cpu, wall) in rows.items():
            print(f"  {name:20s} {1e3 * cpu / n:8.4f} CPU  {1e3 * wall / n:8.4f} wall")
        ratios = [f"loops/chain {rows['loops full chain'][0] / rows['kpdet full chain'][0]:.1f}×"] \
            if "loops full chain" in rows else []
        if mm is not None:
            ratios += [f"mmpose DARK / kpdet DARK {rows['mmpose DARK'][0] / rows['kpdet DARK'][0]:.1f}×",
                       f"mmpose flip+DARK / kpdet full chain "
                       f"{rows['mmpose flip + DARK'][0] / rows['kpdet full chain'][0]:.1f}×"]
        print("  CPU-time ratios: " + ", ".join(ratios))

    groups = torch.arange(big) // args.per_image
    keep, points = kpdet_chain(plain_all, mirrored_all, flip_index, groups, sigmas, args.r)
    if not args.no_loops and big <= 256:
        k2, p2 = loop_chain(plain_all.numpy(), mirrored_all.numpy(), flip_index.numpy(), groups.numpy(),
                            sigmas.double().numpy(), args.r)
        same = bool((keep.numpy() == k2).all())
        diff = np.abs(points.numpy()[keep.numpy()] - p2[k2]).max() if same else float("nan")
        print(f"agreement with the loops at {big}: same poses kept {same}, max point difference {diff:.4f} px")
    if mm is None:
        print(f"mmpose: not measured ({why})")
    else:
        ours = kpdet_dark(plain_all, mirrored_all, flip_index, False).numpy()
        cells = (ours + 0.5) / STRIDE - 0.5
        d = np.abs(cells - mm_points)
        print(f"mmpose {mm['mmpose']} DARK vs kpdet DARK keypoints at {big}: median {np.median(d):.4f}, "
              f"99th pct {np.percentile(d, 99):.4f}, max {d.max():.4f} heatmap cells")
    if args.blur_variants:
        blur_variants(8, args.repeat)
    if args.profile:
        from torch.profiler import profile

        with profile() as prof:
            kpdet_chain(plain_all, mirrored_all, flip_index, groups, sigmas, args.r)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
