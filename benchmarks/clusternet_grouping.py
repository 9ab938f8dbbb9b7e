"""Grouping time of clusternet's inference on CPU, 6 people per image (run by hand).

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/clusternet_grouping.py [--people 6] [--repeat 50]

Ideal network outputs at the paper's map size (17 × 128 × 128: multi-person Gaussians, each
person's tag around its keypoints, a little noise) are decoded by the method's own steps:
``group`` = top-K peaks (K = 30) + Hungarian grouping by tags (the part the issue's goal
names); ``decode`` = the whole post-processing (peaks, grouping, filling of missing keypoints,
sub-pixel refinement, mapping to the image). Peer in the same run: the same peaks grouped
greedily (each peak to its nearest person mean, no one-to-one matching), to show what the
Hungarian matching costs. Median milliseconds per image; single thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from kpdet.codecs.heatmap import gaussian_heatmaps
from kpdet.methods import get_method
from kpdet.methods.clusternet.grouping import top_peaks
from kpdet.schema import COCO17


def ideal_maps(people: int, size: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    heat = np.zeros((17, size, size), np.float32)
    tags = np.zeros((17, 1, size, size), np.float32)
    for p in range(people):
        centre = rng.uniform(20, size - 20, 2)
        kp = np.concatenate([centre + rng.normal(0, 12, (17, 2)), np.full((17, 1), 2.0)], 1)
        kp[:, :2] = kp[:, :2].clip(1, size - 2)
        maps, _ = gaussian_heatmaps(kp, (size, size), 1, 2.0)
        np.maximum(heat, maps, out=heat)
        for k, (x, y) in enumerate(np.rint(kp[:, :2]).astype(int)):
            tags[k, 0, y - 2: y + 3, x - 2: x + 3] = 4.0 * p
    heat += rng.uniform(0, 0.02, heat.shape).astype(np.float32)
    tags += rng.normal(0, 0.05, tags.shape).astype(np.float32)
    return torch.from_numpy(heat)[None], torch.from_numpy(tags)[None]


def greedy(values: np.ndarray, cells: np.ndarray, tags: np.ndarray, thr: float, tag_thr: float) -> int:
    sums, counts = np.zeros((0, tags.shape[-1])), np.zeros(0)
    for j in range(values.shape[0]):
        for i in np.flatnonzero(values[j] > thr):
            if len(counts):
                d = np.linalg.norm(sums / counts[:, None] - tags[j, i], axis=-1)
                p = int(d.argmin())
                if d[p] < tag_thr:
                    sums[p] += tags[j, i]
                    counts[p] += 1
                    continue
            sums, counts = np.vstack([sums, tags[j, i]]), np.append(counts, 1.0)
    return len(counts)


def timed(fn, repeat: int) -> tuple[float, float]:
    """→ median wall ms, mean process-CPU ms per call (CPU time is robust to a shared machine)."""
    fn()
    runs = []
    cpu = time.process_time()
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) * 1e3, (time.process_time() - cpu) / repeat * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = {"name": "clusternet", "input_size": [512, 512], "channels": 8, "hourglass_depth": 1, "num_stacks": 1,
           "dense_clusters": None, "sparse_clusters": [17], "decoder": {"flip_test": False}}
    method = get_method("clusternet").from_config(cfg, {1: COCO17}).eval()
    heat, tags = ideal_maps(args.people)
    meta = [{"image_id": 1, "input_to_image": np.array([[1.0, 0, 0], [0, 1.0, 0]])}]
    d = method.cfg.decoder

    def peaks():
        return [x.double().numpy() for x in top_peaks(heat, tags, d.max_people, d.nms_kernel)]

    v, c, t = peaks()
    found = len(method.decode_maps(heat, tags, meta))
    rows = {
        "peaks (max-pool NMS + top-30)": timed(peaks, args.repeat),
        "grouping (Hungarian, tags)": timed(lambda: method.grouper(v[0], c[0], t[0]), args.repeat),
        "peer: greedy grouping": timed(lambda: greedy(v[0], c[0], t[0], d.detection_threshold, d.tag_threshold),
                                       args.repeat),
        "decode (all post-processing)": timed(lambda: method.decode_maps(heat, tags, meta), args.repeat),
    }
    print(f"people {args.people} (found {found}, greedy peer found {greedy(v[0], c[0], t[0], 0.1, 1.0)}), "
          f"maps 17×128×128, 1 thread")
    for name, (wall, cpu) in rows.items():
        print(f"{name:32s} wall {wall:7.2f} ms   cpu {cpu:7.2f} ms")
    ratio = rows["grouping (Hungarian, tags)"][1] / rows["peer: greedy grouping"][1]
    print(f"grouping / greedy peer (cpu) = {ratio:.2f}")


if __name__ == "__main__":
    main()
