"""Test-time boxes from another trained run (``--boxes-from RUN``).

Any run whose predictions carry boxes can supply them: its predictor runs on the same images and
its boxes, with their scores, become the detections a top-down model crops (the same path as a
detections JSON). The two runs must have been trained on the same categories with the same
keypoints, so that the category ids of the boxes mean the same thing to both.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from kpdet.errors import ConfigError
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction


def check_same_keypoints(source_schemas: dict[int, KeypointSchema], schemas: dict[int, KeypointSchema],
                         source: str) -> None:
    """ConfigError unless both runs have the same categories with the same keypoint names."""
    def describe(s: dict[int, KeypointSchema]) -> str:
        return "; ".join(f"category {c}: {len(s[c].keypoints)} keypoints ({', '.join(s[c].keypoints)})"
                         for c in sorted(s))

    if {c: tuple(s.keypoints) for c, s in source_schemas.items()} != {c: tuple(s.keypoints) for c, s in schemas.items()}:
        raise ConfigError(f"box source {source}: its categories and keypoints [{describe(source_schemas)}] differ "
                          f"from the model's [{describe(schemas)}]; the box source must be trained on the same set")


def detections_from(predictions: Iterable[Prediction | dict[str, Any]], source: str,
                    method: str) -> list[dict[str, Any]]:
    """Predictions → COCO detections ``{image_id, category_id, bbox, score}``. A prediction
    without a box is an error (the source's method gives none); empty or non-finite boxes are
    dropped, as no crop can be taken from them."""
    out = []
    for p in predictions:
        d = p.to_coco() if isinstance(p, Prediction) else p
        if d.get("bbox") is None:
            raise ConfigError(f"box source {source}: its method '{method}' gives predictions without boxes; "
                              "the box source must be a run whose predictions carry boxes")
        x, y, w, h = (float(v) for v in d["bbox"])
        if all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0:
            out.append({"image_id": int(d["image_id"]), "category_id": int(d["category_id"]),
                        "bbox": [x, y, w, h], "score": float(d["score"])})
    return out


def predict_boxes(accelerator, run: str, coco, schemas: dict[int, KeypointSchema], *, batch_size: int,
                  num_workers: int) -> list[dict[str, Any]]:
    """The detections of ``run``'s best checkpoint on every image of ``coco``."""
    from kpdet.engine.evaluate import predict_dataset
    from kpdet.engine.restore import load_trained

    trained = load_trained(run)
    check_same_keypoints(trained.method.schemas, schemas, run)
    dataset = trained.method.build_dataset(coco, train=False)
    trained.method.to(accelerator.device)
    preds, _ = predict_dataset(accelerator, trained.method, dataset, batch_size=batch_size,
                               num_workers=num_workers, desc="boxes")
    return detections_from(preds, run, trained.method.name)
