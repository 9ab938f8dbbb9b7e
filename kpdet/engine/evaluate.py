"""Evaluation loop: predictions of every process gathered, scored with kpdet.eval on the main one."""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from kpdet.engine.loader import BadItem, SafeDataset, SkipBadCollate
from kpdet.errors import DataError


def load_boxes(path: str | os.PathLike) -> list[dict[str, Any]]:
    """A COCO detections file: a list of {image_id, category_id, bbox, score}."""
    src = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            boxes = json.load(f)
    except FileNotFoundError:
        raise DataError(src, "file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(src, f"not valid JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(boxes, list):
        raise DataError(src, f"expected a list of detections, got {type(boxes).__name__}")
    for i, d in enumerate(boxes):
        for key in ("image_id", "bbox", "score"):
            if not isinstance(d, dict) or key not in d:
                raise DataError(src, "missing", record=f"detection #{i}", field=key)
        if not (isinstance(d["bbox"], list) and len(d["bbox"]) == 4):
            raise DataError(src, f"expected [x, y, w, h], got {d['bbox']!r}", record=f"detection #{i}", field="bbox")
    return boxes


@torch.no_grad()
def predict_dataset(accelerator, method, dataset, *, batch_size: int, num_workers: int,
                    desc: str = "eval") -> tuple[list[dict[str, Any]], list[BadItem]]:
    """COCO-format predictions over ``dataset``, split across processes (strided, unpadded, so
    nothing is predicted twice) and gathered on every process. ``method`` is the plain Method
    (unwrapped model or its EMA copy)."""
    n = len(dataset)
    mine = list(range(accelerator.process_index, n, accelerator.num_processes))
    safe = SafeDataset(dataset, seed=0, replace=False)
    loader = DataLoader(Subset(safe, mine), batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=SkipBadCollate(method.collate))
    was_training = method.training
    method.eval()
    preds: list[Any] = []  # Prediction objects until the method's postprocess
    bad: list[BadItem] = []
    try:
        with accelerator.autocast():
            for batch, bad_items in tqdm(loader, desc=desc, leave=False,
                                         disable=not accelerator.is_local_main_process):
                bad.extend(bad_items)
                if batch is None:
                    continue
                images, _, meta = batch
                preds.extend(method.predict_batch(images.to(accelerator.device), meta))
    finally:
        method.train(was_training)
    preds = accelerator.gather_for_metrics(preds, use_gather_object=True)
    preds = [p.to_coco() for p in method.postprocess(preds)]  # after the gather: an image's poses may be split
    bad = accelerator.gather_for_metrics(bad, use_gather_object=True)
    return preds, bad


def evaluate_predictions(coco, preds: list[dict[str, Any]], *, metric: str, pck_alpha: float) -> dict[str, float]:
    from kpdet.eval import evaluate

    return {k: float(v) for k, v in evaluate(coco, preds, metric=metric, pck_alpha=pck_alpha).items()
            if isinstance(v, (int, float))}
