"""mmpose's DARK decoding on saved heatmaps: the peer side of benchmarks/ccm_decode_speed.py.

Runs in a separate environment that has mmpose 1.3.2 (never kpdet's dependencies) and imports
nothing from kpdet. Reads the heatmaps (N, K, H, W) of the crops and of their mirrored crops from
.npy files, times at each batch size n (the first n instances):

- ``dark``: ``MSRAHeatmap(unbiased=True).decode`` on each instance's plain heatmaps, the way
  mmpose's heads decode a batch (one instance per call): argmax, Gaussian modulation (k = 11),
  DARK's Taylor step;
- ``flip_dark``: mmpose's flip test first (``flip_heatmaps`` with its 1-cell shift, the average),
  then the same decoding.

Prints one JSON object: CPU and wall seconds (best of --repeat) per size and mode, and writes the
keypoints (N, K, 2) in heatmap cells that ``dark`` decodes to --out-keypoints.

The environment (~5 minutes; mmcv-lite is mmcv without compiled ops, enough for the codecs, and
mmpose 1.3.2 wants mmcv < 2.2; chumpy and mmdet, which mmpose lists or imports elsewhere, are not
needed here)::

    python3.11 -m venv /work/benchenv-ccmspeed && cd /work/benchenv-ccmspeed
    bin/pip install torch==2.14.1 torchvision==0.29.1
    bin/pip install mmengine==0.10.7 numpy opencv-python-headless scipy matplotlib pillow json_tricks munkres six
    bin/pip install mmcv-lite==2.1.0 && bin/pip install --no-deps mmpose==1.3.2
    bin/pip install cython && bin/pip install --no-binary xtcocotools --no-build-isolation xtcocotools==1.14.3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import mmpose
import numpy as np
import torch
from mmpose.codecs import MSRAHeatmap


def _flip_heatmaps():
    """mmpose's ``models/utils/tta.py`` loaded by path: importing ``mmpose.models`` needs mmdet (for
    its RTMO head), which this comparison does not; the file itself needs only torch."""
    path = Path(mmpose.__file__).parent / "models" / "utils" / "tta.py"
    spec = importlib.util.spec_from_file_location("mmpose_tta", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.flip_heatmaps


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plain", required=True)
    ap.add_argument("--mirrored", required=True)
    ap.add_argument("--flip-index", required=True, help="JSON list")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-keypoints", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)
    plain = np.load(args.plain)  # (N, K, H, W) float32
    mirrored = np.load(args.mirrored)
    flip_index = json.loads(args.flip_index)
    flip_heatmaps = _flip_heatmaps()
    _, _, h, w = plain.shape
    codec = MSRAHeatmap(input_size=(4 * w, 4 * h), heatmap_size=(w, h), sigma=2.0, unbiased=True,
                        blur_kernel_size=11)

    def dark(maps: np.ndarray) -> np.ndarray:
        return np.concatenate([codec.decode(m)[0] for m in maps])  # (n, K, 2) input pixels

    def flip_dark(p: torch.Tensor, m: torch.Tensor) -> np.ndarray:
        avg = (p + flip_heatmaps(m, flip_indices=flip_index, flip_mode="heatmap", shift_heatmap=True)) * 0.5
        return dark(avg.numpy())

    result = {"mmpose": mmpose.__version__, "sizes": {}}
    for n in args.sizes:
        p, m = plain[:n], mirrored[:n]
        pt, mt = torch.from_numpy(p), torch.from_numpy(m)
        inner = max(1, 64 // n)
        result["sizes"][n] = {"dark": timed(lambda: dark(p), args.repeat, inner),
                              "flip_dark": timed(lambda: flip_dark(pt, mt), args.repeat, inner)}
    np.save(args.out_keypoints, dark(plain) / np.array([4.0, 4.0]))  # mmpose's cells: x_in / stride
    print(json.dumps(result))


if __name__ == "__main__":
    main()
