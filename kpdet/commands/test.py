"""`kpdet test RUN`: evaluate a trained run's checkpoint with kpdet's metrics."""

from __future__ import annotations

import argparse

HELP = "evaluate a trained run (its best checkpoint by default) on a COCO keypoints set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run directory written by `kpdet train`, or one of its .pt checkpoints")
    parser.add_argument("--data", metavar="ANN.json", help="COCO keypoints file (default: the run's data.val)")
    parser.add_argument("--images", metavar="DIR", help="image folder (default: the JSON's folder)")
    parser.add_argument("--boxes", metavar="DET.json", help="detections for test-time boxes (top-down methods)")
    parser.add_argument("--boxes-from", metavar="RUN", help="test-time boxes (with scores) predicted by another "
                        "run whose predictions carry boxes, trained on the same keypoints (top-down methods)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
                        help="override an inference option of the run's config, e.g. "
                             "method.decoder.refine=dark (repeatable)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the run's train.batch_size")
    parser.add_argument("--json", metavar="OUT", help="write the metrics to this JSON file")
    parser.add_argument("--predictions", metavar="OUT", help="write the predictions (COCO results) here")


def run(args: argparse.Namespace) -> int:
    from kpdet.engine.box_source import predict_boxes
    from kpdet.engine.evaluate import evaluate_predictions, load_boxes, predict_dataset
    from kpdet.engine.restore import load_trained
    from kpdet.engine.trainer import load_split, make_accelerator
    from kpdet.errors import ConfigError, DataError
    from kpdet.fileio import write_json

    trained = load_trained(args.run, checkpoint=args.checkpoint, overrides=args.overrides)
    cfg, method, path = trained.cfg, trained.method, trained.checkpoint

    data = args.data or cfg.data.val
    images = args.images if args.data else (args.images or cfg.data.val_images)
    coco = load_split(data, images, "--data")
    method.check_schemas(coco.schemas, coco.source)
    if args.boxes and args.boxes_from:
        raise ConfigError("--boxes and --boxes-from: give one of them")
    acc = make_accelerator(cfg)
    batch_size = args.batch_size or cfg.train.batch_size
    if args.boxes_from:
        boxes = predict_boxes(acc, args.boxes_from, coco, method.schemas, batch_size=batch_size,
                              num_workers=cfg.train.num_workers)
        if not boxes:
            raise DataError(coco.source, f"--boxes-from {args.boxes_from}: the run found no box on these images")
        print(f"{len(boxes)} boxes from {args.boxes_from}")
    else:
        boxes_path = args.boxes or (cfg.data.val_boxes if not args.data else None)
        boxes = load_boxes(boxes_path) if boxes_path else None
    dataset = method.build_dataset(coco, train=False, boxes=boxes)
    if len(dataset) == 0:
        raise DataError(coco.source, "gives no items to evaluate")

    method.to(acc.device)
    preds, bad = predict_dataset(acc, method, dataset, batch_size=batch_size,
                                 num_workers=cfg.train.num_workers, desc="test")
    if not acc.is_main_process:
        return 0
    if bad:
        print(f"skipped {len(bad)} unreadable item(s): " + "; ".join(msg for _, msg in bad[:10]))
    metrics = evaluate_predictions(coco, preds, metric=cfg.train.eval_metric, pck_alpha=cfg.train.pck_alpha)
    print(f"{path} (step {trained.step}) on {coco.source}: {len(preds)} predictions")
    for name, value in metrics.items():
        print(f"  {name:<16} {value:.4f}")
    if args.json:
        write_json({"checkpoint": str(path), "data": coco.source, "metric": cfg.train.eval_metric,
                    "metrics": metrics}, args.json, indent=2)
    if args.predictions:
        write_json(preds, args.predictions)
    return 0
