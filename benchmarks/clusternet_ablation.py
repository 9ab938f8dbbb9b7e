"""Table-1-shaped ablation of clusternet on crowded synthetic figures (run by hand).

    PYTHONPATH=. python benchmarks/clusternet_ablation.py --train T.json --val V.json --out /tmp/abl \
        [--preset configs/clusternet/tiny.yaml] [--epochs 2] [--minutes 9] [--only plain_ae,in_cross]

Every variant is the same preset trained through the real engine (`kpdet train`) with the same
epochs, batch and seed (equal budget in steps; --minutes caps each run's wall time as well),
differing only in its cluster configuration and aggregation blocks. With a 2-stack preset
the paper's 4-stack settings are cut to their last two stacks:

    plain_ae      one branch, one cluster per keypoint everywhere (PoseAE, Table 1 baseline)
    cluster1      dense (1, 3), sparse (5, K), no aggregation
    cluster2      dense (1, 1), sparse (K, K), no aggregation
    in_branch     cluster2 + in-branch aggregation
    cross_branch  cluster2 + cross-branch aggregation
    in_cross      cluster2 + both

Prints the last evaluation (OKS AP, AP50, AP75, AR) of each run from its metrics.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {
    "plain_ae": {"dense_clusters": "null", "sparse_clusters": "[K,K]", "in_branch": "false", "cross_branch": "false"},
    "cluster1": {"dense_clusters": "[1,3]", "sparse_clusters": "[5,K]", "in_branch": "false", "cross_branch": "false"},
    "cluster2": {"dense_clusters": "[1,1]", "sparse_clusters": "[K,K]", "in_branch": "false", "cross_branch": "false"},
    "in_branch": {"dense_clusters": "[1,1]", "sparse_clusters": "[K,K]", "in_branch": "true", "cross_branch": "false"},
    "cross_branch": {"dense_clusters": "[1,1]", "sparse_clusters": "[K,K]", "in_branch": "false",
                     "cross_branch": "true"},
    "in_cross": {"dense_clusters": "[1,1]", "sparse_clusters": "[K,K]", "in_branch": "true", "cross_branch": "true"},
}


def last_eval(run: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    with open(run / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            name = row.get("name") or row.get("key") or ""
            if name.startswith("val/"):
                out[name[4:]] = float(row["value"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", default="configs/clusternet/tiny.yaml")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--keypoints", type=int, default=17)
    parser.add_argument("--only", default=",".join(VARIANTS))
    parser.add_argument("--set", action="append", default=[], help="extra overrides for every variant")
    args = parser.parse_args()
    rows = []
    for name in args.only.split(","):
        run = Path(args.out) / name
        sets = [f"method.{k}={v.replace('K', str(args.keypoints))}" for k, v in VARIANTS[name].items()]
        sets += [f"data.train={args.train}", f"data.val={args.val}", f"train.epochs={args.epochs}",
                 f"train.max_minutes={args.minutes}", *args.set]
        cmd = [sys.executable, "-m", "kpdet.cli", "train", args.preset, "--out", str(run), "--force"]
        for s in sets:
            cmd += ["--set", s]
        t = time.time()
        cpu = os.times()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        used = os.times()
        cpu_min = (used.children_user + used.children_system - cpu.children_user - cpu.children_system) / 60
        rows.append((name, last_eval(run), (time.time() - t) / 60, cpu_min))
    print(f"{'variant':14s} {'AP':>6s} {'AP50':>6s} {'AP75':>6s} {'AR':>6s} {'wall min':>9s} {'cpu min':>8s}")
    for name, m, wall, cpu_min in rows:
        print(f"{name:14s} " + " ".join(f"{m.get(k, float('nan')):6.3f}" for k in ("AP", "AP50", "AP75", "AR"))
              + f" {wall:9.1f} {cpu_min:8.1f}")


if __name__ == "__main__":
    main()
