"""PCK@0.1 per occlusion level for trained runs (CoKe Table 1 / Table 6 / Table 7 shapes; run by hand).

    kpdet synth objects --out /tmp/occ/L0 --num-images 120 --seed 3 --occlusion L0   # … L1, L2, L3
    PYTHONPATH=. python benchmarks/coke_occlusion.py --runs coke=/tmp/runs/coke topdown=/tmp/runs/td \
        --levels L0=/tmp/occ/L0/annotations.json L1=… L2=… L3=… [--checkpoint last] [--json out.json]

Every run is tested with ground-truth boxes and categories on every level's set; the table
gives PCK@0.1 (labelled keypoints, v > 0) per level and the relative drop from L0 to the
last level, the quantity the robustness goal compares between CoKe and the heatmap baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pck(run: str, data: str, checkpoint: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.json"
        subprocess.run([sys.executable, "-m", "kpdet.cli", "test", run, "--data", data, "--checkpoint", checkpoint,
                        "--json", str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        return float(json.loads(out.read_text())["metrics"]["PCK"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", required=True, metavar="NAME=RUN_DIR")
    ap.add_argument("--levels", nargs="+", required=True, metavar="LEVEL=ANN.json")
    ap.add_argument("--checkpoint", choices=("best", "last"), default="last")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    runs = dict(r.split("=", 1) for r in args.runs)
    levels = dict(lv.split("=", 1) for lv in args.levels)
    table = {name: {lv: pck(run, data, args.checkpoint) for lv, data in levels.items()} for name, run in runs.items()}
    names = list(levels)
    print(f"{'run':<20}" + "".join(f"{lv:>8}" for lv in names) + f"{'drop':>8}")
    for name, row in table.items():
        drop = (row[names[0]] - row[names[-1]]) / max(row[names[0]], 1e-9)
        print(f"{name:<20}" + "".join(f"{100 * row[lv]:8.1f}" for lv in names) + f"{100 * drop:7.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
