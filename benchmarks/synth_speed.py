"""Speed of `kpdet synth` (run by hand): 1,000 images of 256×256 per generator, goal < 60 s on 2 cores.

Prints wall time, CPU time (this process + workers; the machine is shared, so wall time is
noisy) and the ratio to a peer measured in the same run: writing the same number of
noise PNGs of the same size with OpenCV, i.e. the image-encoding floor of any generator.

    PYTHONPATH=. python benchmarks/synth_speed.py [--num-images 1000] [--workers 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from kpdet.data.images import write_image
from kpdet.data.synth.dataset import generate
from kpdet.data.synth.figures import FiguresConfig
from kpdet.data.synth.objects import ObjectsConfig


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - w, _cpu() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-images", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--occlusion", type=int, default=0)
    ap.add_argument("--out", default=None, help="keep the datasets here (default: a temporary folder)")
    args = ap.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="synth_speed_"))
    n, s = args.num_images, args.size

    def peer() -> None:
        rng = np.random.default_rng(0)
        for i in range(n):
            write_image(root / "peer" / f"{i:06d}.png", rng.integers(0, 256, (s, s, 3), dtype=np.uint8))

    wall, cpu = _timed(peer)
    print(f"peer  png-writes      {n} images {s}px: wall {wall:6.1f} s  cpu {cpu:6.1f} s  (1 process)")
    peer_cpu = cpu
    for kind, cfg in (("figures", FiguresConfig(size=s)), ("objects", ObjectsConfig(size=s))):
        wall, cpu = _timed(lambda: generate(kind, root / kind, n, 0, cfg, args.occlusion, workers=args.workers))
        print(f"synth {kind:<8} L{args.occlusion}    {n} images {s}px: wall {wall:6.1f} s  cpu {cpu:6.1f} s  "
              f"({args.workers} workers)  {1000 * cpu / n:5.1f} ms cpu/image  cpu ratio to peer {cpu / peer_cpu:4.1f}  "
              f"goal 60 s wall: {'met' if wall < 60 else 'MISSED'}")
    if args.out is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
