"""`kpdet eval --gt GT.json --pred PRED.json [--metric oks|crowdpose|pck|pckh] [--json OUT]`."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "score predictions against ground truth: OKS AP/AR, CrowdPose AP, PCK/PCKh, breakdowns"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from kpdet.eval import METRICS
    from kpdet.eval.pck import NORMS

    parser.add_argument("--gt", required=True, help="ground truth, COCO keypoints JSON")
    parser.add_argument("--pred", required=True, help="predictions, a JSON list of COCO keypoint results")
    parser.add_argument("--metric", choices=METRICS, default="oks",
                        help="oks: COCO AP/AR; crowdpose: CrowdPose AP (easy/medium/hard); "
                             "pck: PCK@alpha; pckh: PCKh@0.5 (default: oks)")
    parser.add_argument("--pck-alpha", type=float, default=0.1, help="PCK threshold as a fraction of the norm")
    parser.add_argument("--pck-norm", choices=NORMS, default="bbox", help="PCK normalising length")
    parser.add_argument("--json", metavar="OUT", help="also write every number to this JSON file")


def run(args: argparse.Namespace) -> int:
    from kpdet.eval import evaluate
    from kpdet.fileio import write_json

    result = evaluate(args.gt, args.pred, args.metric, pck_alpha=args.pck_alpha, pck_norm=args.pck_norm)
    print(format_result(result))
    if args.json:
        write_json(result, args.json, indent=2)
        print(f"wrote {args.json}")
    return 0


def _table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "-" if v == -1.0 else f"{v:.4f}" if abs(v) <= 1 else f"{v:.2f}"
    return str(v)


def format_result(r: dict[str, Any]) -> str:
    from kpdet.eval.coco_eval import STAT_KEYS
    from kpdet.eval.crowdpose import CROWD_KEYS

    out = [f"{r['metric']} on {r['num_images']} images, {r['num_predictions']} predictions"]
    pck_keys = ["PCK", "mean_error_px", "num_keypoints", "num_instances", "num_missed"]
    if r["metric"] in ("oks", "crowdpose"):
        keys = list(STAT_KEYS if r["metric"] == "oks" else CROWD_KEYS)
        rows = [["all"] + [r[k] for k in keys]]
        rows += [[n] + [c[k] for k in keys] for n, c in r["categories"].items()] if len(r["categories"]) > 1 else []
        out.append(_table(["category"] + keys, rows))
        pck = r["pck"]
        cats = {n: c["pck"] for n, c in r["categories"].items()}
    else:
        pck = r
        cats = r["categories"]
    out.append(f"\nPCK@{r['pck_alpha']:g} ({r['pck_norm']} norm)")
    rows = [["all"] + [pck[k] for k in pck_keys]]
    rows += [[n] + [c[k] for k in pck_keys] for n, c in cats.items()] if len(cats) > 1 else []
    out.append(_table(["category"] + pck_keys, rows))
    if r["metric"] in ("pck", "pckh"):
        out.append("\n" + _table(["keypoint", "PCK"], [[k, v] for k, v in pck["PCK_per_keypoint"].items()]))
    b = r["breakdowns"]
    rows = [[f"{group}={name}", s["keypoints"], s["PCK"], s["mean_error_px"], s.get("mean_OKS", -1.0)]
            for group, groups in b.items() for name, s in groups.items()]
    out.append("\n" + _table(["breakdown", "keypoints", "PCK", "mean_error_px", "mean_OKS"], rows))
    return "\n".join(out)
