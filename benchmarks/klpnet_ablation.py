"""KLPNet ablations in the shapes of the paper's Table 4 (CKLM stages) and Table 5 (backbone only /
+ cross-stage aggregation / + LIS).

    PYTHONPATH=. python benchmarks/klpnet_ablation.py --preset configs/klpnet/tiny.yaml \
        [--runs 1=RUN 2=RUN 3=RUN ...] [--variants base=RUN cross=RUN] --data val/annotations.json

GFLOPs of CKLM per object crop are counted for 1–5 stages (torch.utils.flop_counter, one
multiply-add = 2 FLOPs), with and without cross-stage aggregation. PCK@0.1 (predicted ids and
OracleId) is added for every trained run given: train them with `kpdet train PRESET --set
method.cklm.stages=S` (Table 4) or `--set method.cklm.cross_stage=false` (Table 5, "Ours"); the
"+ LIS" row is the cross-stage run evaluated with LIS on (benchmarks/klpnet_objects.py reports both).
"""

from __future__ import annotations

import argparse
import json

import torch
from torch.utils.flop_counter import FlopCounterMode


def cklm_gflops(cfg, stages: int, cross: bool) -> float:
    from kpdet.methods.klpnet.cklm import Cklm

    k = cfg.method.cklm
    net = Cklm(stages, k.widths, k.heatmap_stride, k.embed_dim, cross).eval()
    x = torch.zeros(1, 3, k.crop_size, k.crop_size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    return counter.get_total_flops() / 1e9


def main() -> None:
    from kpdet.config import load_config

    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="configs/klpnet/tiny.yaml")
    ap.add_argument("--runs", nargs="*", default=[], help="STAGES=RUN_DIR")
    ap.add_argument("--variants", nargs="*", default=[], help="NAME=RUN_DIR")
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(args.preset, resolve_paths=False)
    table4 = {s: {"GFLOPs": round(cklm_gflops(cfg, s, True), 4),
                  "GFLOPs_no_cross_stage": round(cklm_gflops(cfg, s, False), 4)} for s in range(1, 6)}
    out = {"preset": args.preset, "table4": table4, "table5": {}}
    if args.data and (args.runs or args.variants):
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parent))
        import klpnet_objects as ko
        from kpdet.data.coco import load_coco
        from kpdet.engine.restore import load_trained

        coco = load_coco(args.data)
        overlap = ko.overlapping_images(coco)
        for label, table in [(r, "table4") for r in args.runs] + [(v, "table5") for v in args.variants]:
            key, run = label.split("=", 1)
            method = load_trained(run).method
            m = ko.metrics(coco, ko.predict(method, coco, 16), overlap)
            row = {"PCK": m["PCK"], "PCK_oracle": m["PCK_oracle"], "link_F1": m["link_F1"]}
            if table == "table4":
                out["table4"][int(key)].update(row)
            else:
                out["table5"][key] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
