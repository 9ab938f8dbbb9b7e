"""Ultralytics pose models built from their YAML (random init, no weights), timed with kpdet's
protocol. Run by benchmarks/speed_table.py in the peer virtualenv; prints one JSON line per model.

    YOLO_OFFLINE=1 YOLO_CONFIG_DIR=DIR python benchmarks/peers/ultralytics_pose.py --imgsz 1280 [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imgsz", type=int, nargs="+", required=True)
    parser.add_argument("--models", nargs="+", default=["yolov8n-pose", "yolo11n-pose"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    import torch
    import ultralytics
    from ultralytics import YOLO

    from speed_timing import QUICK, Protocol, count_gflops, export_bytes, max_abs_diff, measure, ort_session

    torch.set_num_threads(args.threads)  # after importing ultralytics, which sets its own
    protocol = QUICK if args.quick else Protocol()
    for name in args.models:
        model = YOLO(f"{name}.yaml").model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        params = sum(p.numel() for p in model.parameters())
        for size in args.imgsz:
            x = torch.rand(1, 3, size, size)
            gflops = count_gflops(model, x)
            session = ort_session(export_bytes(model, x), args.threads)
            row = measure(model, session, x, args.batch, args.threads, protocol)
            with torch.no_grad():
                ref = model(x)
            ref = [ref[0]] if isinstance(ref, (list, tuple)) else [ref]
            row["ort_max_abs_diff"] = max_abs_diff(ref, session.run(None, {"input": x.numpy()})[:1])
            print(json.dumps({"name": f"ultralytics {ultralytics.__version__} {name}", "input": [size, size],
                              "params": params, "gflops": gflops, **row}), flush=True)


if __name__ == "__main__":
    main()
