"""`kpdet demo`: the main job end to end on built-in synthetic data.

synthesise a small `figures` set → train a tiny preset for a few CPU minutes (progress bar) →
evaluate on held-out images (ground-truth boxes) → draw predictions, plot the training
curves and write an HTML report, all into ``--out`` (default ``runs/demo``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "synthesise data, train a tiny model for a few minutes, evaluate, and write a report (runs/demo/)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default runs/demo)")
    parser.add_argument("--config", default=None, metavar="YAML",
                        help="preset to train (default: configs/demo.yaml of the repository)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.max_minutes=2 (repeatable)")
    parser.add_argument("--train-images", type=int, default=600, help="synthetic training images (default 600)")
    parser.add_argument("--val-images", type=int, default=60, help="held-out synthetic images (default 60)")
    parser.add_argument("--size", type=int, default=256,
                        help="synthetic image side in pixels (default 256, as `kpdet synth`)")
    parser.add_argument("--force", action="store_true", help="replace a demo run already in --out")


def _synthesise(out: Path, n: int, seed: int, size: int, people: tuple[int, int]) -> Path:
    from kpdet.data.synth.dataset import generate
    from kpdet.data.synth.figures import FiguresConfig

    path = out / "annotations.json"
    if path.is_file():  # reuse: same arguments give the same bytes
        return path
    import os

    cfg = FiguresConfig(size=size, people=people, crowding=0.3)
    return generate("figures", out, n, seed, cfg, workers=os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    import time

    from kpdet.commands.models import default_configs_dir
    from kpdet.config import load_config
    from kpdet.engine.trainer import train
    from kpdet.errors import ConfigError

    t0 = time.time()
    out = Path(args.out)
    cfg_path = Path(args.config) if args.config else default_configs_dir() / "demo.yaml"
    if not cfg_path.is_file():
        raise ConfigError(f"{cfg_path}: demo preset not found (pass --config)")
    n_train, n_val, size, people = args.train_images, args.val_images, args.size, (1, 3)

    print(f"[1/4] synthesising {n_train} training and {n_val} held-out images ({size} px) …", flush=True)
    train_json = _synthesise(out / "data" / "train", n_train, 0, size, people)
    val_json = _synthesise(out / "data" / "val", n_val, 1, size, people)

    overrides = [f"data.train={train_json}", f"data.val={val_json}", *args.overrides]
    cfg = load_config(cfg_path, overrides)
    run_dir = out / "run"
    print(f"[2/4] training {cfg.method.name} ({cfg_path.name}) for at most "
          f"{cfg.train.max_minutes or '∞'} min into {run_dir} …", flush=True)
    train(cfg, run_dir, force=args.force)

    print("[3/4] evaluating the best checkpoint on the held-out images (ground-truth boxes) …", flush=True)
    metrics, preds = _evaluate(run_dir, val_json)

    print("[4/4] drawing predictions, curves and the report …", flush=True)
    report = _report(out, run_dir, val_json, preds, metrics, cfg_path, time.time() - t0)
    print(f"OKS AP {metrics['AP']:.3f}  AP50 {metrics['AP50']:.3f}  PCK@0.1 {metrics.get('PCK', float('nan')):.3f}  "
          f"({(time.time() - t0) / 60:.1f} min); report: {report}")
    return 0


def _evaluate(run_dir: Path, val_json: Path) -> tuple[dict[str, float], list[dict]]:
    from kpdet.data.coco import load_coco
    from kpdet.engine.evaluate import predict_dataset
    from kpdet.engine.restore import load_trained
    from kpdet.engine.trainer import make_accelerator
    from kpdet.eval import evaluate
    from kpdet.fileio import write_json

    trained = load_trained(run_dir)
    coco = load_coco(val_json)
    acc = make_accelerator(trained.cfg)
    trained.method.to(acc.device)
    preds, _ = predict_dataset(acc, trained.method, trained.method.build_dataset(coco, train=False),
                               batch_size=trained.cfg.train.batch_size, num_workers=0, desc="test")
    oks = evaluate(coco, preds, metric="oks")
    pck = evaluate(coco, preds, metric="pck")
    metrics = {k: float(oks[k]) for k in ("AP", "AP50", "AP75", "AR")}
    metrics.update(PCK=float(pck["PCK"]), mean_error_px=float(pck["mean_error_px"]))
    write_json(preds, run_dir / "val_predictions.json")
    write_json({"oks": oks, "pck": pck}, run_dir / "val_metrics.json", indent=1)
    return metrics, preds


def _report(out: Path, run_dir: Path, val_json: Path, preds: list[dict], metrics: dict, cfg_path: Path,
            seconds: float) -> Path:
    import numpy as np

    from kpdet.data.coco import load_coco
    from kpdet.data.images import write_image
    from kpdet.structures import Prediction
    from kpdet.viz.draw import draw_instances, draw_predictions
    from kpdet.viz.plots import plot_curves
    from kpdet.viz.report import write_report

    coco = load_coco(val_json)
    by_image: dict[int, list[Prediction]] = {}
    for p in preds:
        by_image.setdefault(p["image_id"], []).append(Prediction.from_coco(p))
    shown = []
    for img in coco.images[:8]:
        image = coco.load_image(img["id"])
        gt = draw_instances(image, coco.instances(img["id"]), coco.schemas)
        pr = draw_predictions(image, by_image.get(img["id"], []), coco.schemas, score_thr=0.2)
        path = out / "overlays" / f"{img['id']:04d}.png"
        write_image(path, np.concatenate([gt, pr], axis=1))
        shown.append(path)
    curves = out / "curves.png"
    plot_curves(run_dir / "metrics.csv", curves)
    report = out / "report.html"
    write_report(report, "kpdet demo", {**metrics, "minutes": round(seconds / 60, 2)}, [curves, *shown],
                 config_text=(run_dir / "config.yaml").read_text())
    return report
