"""Training throughput of every tiny preset (run by hand): images/s and peak memory on CPU.

For each ``configs/*/tiny.yaml`` (new methods are picked up automatically) this trains with the
real engine (`kpdet.engine.trainer.train`) on a small synthetic set, in a fresh subprocess with
``--threads`` torch threads and ``num_workers=0`` (image decoding, augmentation and target
encoding run in the measured process), and reports after ``--warmup`` optimizer steps:

* images/s over the next ``--steps`` steps (wall clock; the machine is shared, so also
  CPU-seconds per image: user + sys of the process, which is steadier than wall time),
* peak RSS of the process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``): Python objects,
  torch's CPU tensors and allocator caches, images, libraries; and the peak RSS after the
  first optimizer step (imports, model, dataset, one step's activations) for comparison,
* the ratio of images/s to the first preset of the table (the peer measured in the same run).

The synthetic set is the generator named in the preset's data.train path (``data/<generator>/…``:
figures or objects; figures otherwise), ``--images`` images of 256×256.

    PYTHONPATH=. python benchmarks/train_throughput.py [--steps 20] [--warmup 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import glob
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class _Done(Exception):
    pass


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from kpdet.config import load_config
    from kpdet.engine.trainer import train

    overrides = [f"data.train={args.data}", "data.val=null", "train.num_workers=0", "train.epochs=100000",
                 "train.max_minutes=null", "train.checkpoint_every_steps=null", "train.log_every=1000000"]
    if args.batch_size:
        overrides.append(f"train.batch_size={args.batch_size}")
    cfg = load_config(args.preset, overrides)
    marks: list[tuple[float, float]] = []
    total = args.warmup + args.steps
    rss_before: list[float] = []

    def hook(step: int) -> None:
        if not rss_before:
            rss_before.append(_rss_mib())
        marks.append((time.perf_counter(), _cpu()))
        if step >= total:
            raise _Done

    with tempfile.TemporaryDirectory(prefix="kpdet_tp_") as run:
        start = (time.perf_counter(), _cpu())
        try:
            train(cfg, Path(run) / "run", step_hook=hook)
        except _Done:
            pass
    if len(marks) < total:
        raise SystemExit(f"{args.preset}: only {len(marks)} steps ran (epochs too short?)")
    (w0, c0), (w1, c1) = marks[args.warmup - 1] if args.warmup else start, marks[total - 1]
    images = args.steps * cfg.train.batch_size
    print(json.dumps({"preset": args.preset, "method": cfg.method.name, "batch_size": cfg.train.batch_size,
                      "images_per_s": images / (w1 - w0), "cpu_s_per_image": (c1 - c0) / images,
                      "rss_first_step_mib": rss_before[0], "rss_peak_mib": _rss_mib()}))


def _generator(preset: str) -> str:
    import yaml

    train = str((yaml.safe_load(Path(preset).read_text()) or {}).get("data", {}).get("train", ""))
    return "objects" if "objects" in Path(train).parts else "figures"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=48, help="synthetic images per generator")
    ap.add_argument("--batch-size", type=int, default=None, help="default: each preset's train.batch_size")
    ap.add_argument("--presets", default=str(ROOT / "configs" / "*" / "tiny.yaml"))
    ap.add_argument("--child", dest="preset", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.preset:
        return child(args)

    from kpdet.data.synth.dataset import generate
    from kpdet.data.synth.figures import FiguresConfig
    from kpdet.data.synth.objects import ObjectsConfig

    presets = sorted(glob.glob(args.presets))
    if not presets:
        raise SystemExit(f"no preset matches {args.presets}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="kpdet_tp_data_") as tmp:
        sets: dict[str, Path] = {}
        for preset in presets:
            gen = _generator(preset)
            if gen not in sets:
                cfg = FiguresConfig() if gen == "figures" else ObjectsConfig()
                sets[gen] = generate(gen, Path(tmp) / gen, args.images, seed=0, cfg=cfg)
            cmd = [sys.executable, __file__, "--child", preset, "--data", str(sets[gen]),
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)]
            if args.batch_size:
                cmd += ["--batch-size", str(args.batch_size)]
            env = {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
                   "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TQDM_DISABLE": "1"}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(f"{preset}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["data"] = gen
            rows.append(row)
    if not rows:
        raise SystemExit("every preset failed")
    ref = rows[0]["images_per_s"]
    print(f"{args.threads} threads, {args.warmup} warm-up + {args.steps} measured steps, num_workers 0, "
          f"synthetic 256×256; peak RSS = getrusage ru_maxrss of the training process")
    head = f"{'preset':<34} {'data':<8} {'batch':>5} {'img/s':>7} {'vs first':>8} {'CPU s/img':>9} " \
           f"{'RSS@step1 MiB':>13} {'peak RSS MiB':>12}"
    print(head)
    print("-" * len(head))
    for r in rows:
        name = str(Path(r["preset"]).relative_to(ROOT)) if Path(r["preset"]).is_relative_to(ROOT) else r["preset"]
        print(f"{name:<34} {r['data']:<8} {r['batch_size']:>5} {r['images_per_s']:>7.2f} "
              f"{r['images_per_s'] / ref:>8.2f} {r['cpu_s_per_image']:>9.3f} {r['rss_first_step_mib']:>13.0f} "
              f"{r['rss_peak_mib']:>12.0f}")


if __name__ == "__main__":
    main()
