"""CCM's training strategies (Zhang et al., IJCV 2022, Sec. 4), each from ``method.strategies``.

* Hard-negative person detection mining (Sec. 4.1): detections on the training images with score
  ≥ τ that intersect no ground-truth box of their category are added as crops whose heatmaps are
  all zero and supervised (weight 1), so the model learns to predict nothing there.
* Pseudo-label distillation (Sec. 4.2): a teacher's predictions on unlabelled images become
  annotations; keypoints scored > 0.9 are labelled (v = 2), the rest unlabelled (v = 0).
* Joint training with heterogeneous labels (Sec. 4.3): another dataset's annotations are mapped
  onto the model's keypoint set by name; keypoints without a counterpart are unlabelled, so only
  the shared ones supervise. The fine-tune stage is a second run with ``init_weights``.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np
import torch

from kpdet.data.coco import CocoDataset, load_coco
from kpdet.data.instance_crops import InstanceCropDataset
from kpdet.errors import ConfigError, DataError
from kpdet.schema import KeypointSchema


def _read_results(path: str, what: str) -> list[dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise DataError(path, f"{what}: file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(path, f"{what}: not valid JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(obj, list):
        raise DataError(path, f"{what}: expected a COCO results list of dicts")
    return obj


def _intersects(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """boxes (N, 4), others (M, 4) xywh → (N,) True where a box overlaps any other with positive area."""
    if len(others) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes), bool)
    x0 = np.maximum(boxes[:, None, 0], others[None, :, 0])
    y0 = np.maximum(boxes[:, None, 1], others[None, :, 1])
    x1 = np.minimum(boxes[:, None, 0] + boxes[:, None, 2], others[None, :, 0] + others[None, :, 2])
    y1 = np.minimum(boxes[:, None, 1] + boxes[:, None, 3], others[None, :, 1] + others[None, :, 3])
    return ((x1 > x0) & (y1 > y0)).any(1)


def mine_hard_negatives(coco: CocoDataset, detections: Iterable[dict[str, Any]], score_threshold: float = 0.5,
                        source: str = "detections") -> list[dict[str, Any]]:
    """CCM Sec. 4.1: the detections with score ≥ τ that overlap no ground-truth box (crowd regions
    included) of their category in their image."""
    by_image: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for i, d in enumerate(detections):
        try:
            key = (int(d["image_id"]), int(d["category_id"]))
            score, box = float(d["score"]), np.asarray(d["bbox"], np.float64).reshape(4)
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(source, f"expected image_id, category_id, bbox [x, y, w, h], score: {e}",
                            record=f"detection #{i}") from None
        if key[0] in coco.image_by_id and score >= score_threshold and box[2] > 0 and box[3] > 0:
            by_image.setdefault(key, []).append({"image_id": key[0], "category_id": key[1],
                                                 "bbox": box.tolist(), "score": score})
    out = []
    for (image_id, cat), dets in sorted(by_image.items()):
        gt = np.array([a["bbox"] for a in coco.anns_by_image[image_id] if a["category_id"] == cat],
                      np.float64).reshape(-1, 4)
        hit = _intersects(np.array([d["bbox"] for d in dets]), gt)
        out += [d for d, h in zip(dets, hit) if not h]
    return out


class HardNegativeCrops(InstanceCropDataset):
    """Training crops of hard-negative boxes: all-zero heatmaps, supervised on the whole category
    block (weight = mask) so the loss pushes every prediction there to zero."""

    def __init__(self, coco: CocoDataset, schemas: dict[int, KeypointSchema], negatives: list[dict[str, Any]],
                 **kwargs):
        super().__init__(coco, schemas, train=True, **kwargs)
        self.records = self._detection_records(negatives)

    def __getitem__(self, index: int):
        image, targets, meta = super().__getitem__(index)
        targets["heatmap"] = np.zeros_like(targets["heatmap"])
        targets["weight"] = targets["mask"].copy()
        meta["hard_negative"] = True
        return image, targets, meta


def pseudo_label_coco(images: CocoDataset, predictions: Iterable[dict[str, Any]], keypoint_threshold: float = 0.9,
                      pose_threshold: float = 0.0) -> CocoDataset:
    """CCM Sec. 4.2: teacher predictions → annotations. Keypoints with score > ``keypoint_threshold``
    become labelled (v = 2), the others unlabelled (0, 0, 0); poses without a labelled keypoint or
    scored below ``pose_threshold`` are dropped. The box is the prediction's, else the labelled
    keypoints' extent."""
    anns = []
    for i, p in enumerate(predictions):
        image_id, cat = int(p["image_id"]), int(p["category_id"])
        if image_id not in images.image_by_id or cat not in images.schemas or float(p["score"]) < pose_threshold:
            continue
        kp = np.asarray(p["keypoints"], np.float64).reshape(-1, 3)
        if len(kp) != images.schemas[cat].num_keypoints:
            raise DataError("predictions", f"{len(kp)} keypoints, category {cat} has "
                            f"{images.schemas[cat].num_keypoints}", record=f"prediction #{i}", field="keypoints")
        sure = kp[:, 2] > keypoint_threshold
        if not sure.any():
            continue
        labels = np.where(sure[:, None], np.concatenate([kp[:, :2], np.full((len(kp), 1), 2.0)], 1), 0.0)
        if p.get("bbox") is not None:
            box = [float(v) for v in p["bbox"]]
        else:
            lo, hi = kp[sure, :2].min(0), kp[sure, :2].max(0)
            box = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
        anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "bbox": box,
                     "area": box[2] * box[3], "iscrowd": 0, "num_keypoints": int(sure.sum()),
                     "keypoints": labels.reshape(-1).tolist()})
    return CocoDataset(images.images, anns, images.categories, source=images.source, extra=dict(images.extra))


def remap_coco(source: CocoDataset, target: KeypointSchema, target_category: dict[str, Any], source_category_id: int,
               keypoint_map: dict[str, str]) -> CocoDataset:
    """CCM Sec. 4.3: ``source``'s annotations of ``source_category_id`` rewritten onto ``target``'s keypoint
    set (``keypoint_map``: target name → source name); unmapped target keypoints are unlabelled."""
    src_schema = source.schemas.get(source_category_id)
    if src_schema is None:
        raise ConfigError(f"{source.source}: no category {source_category_id} to map keypoints from")
    bad = [f"{t} → {s}" for t, s in keypoint_map.items() if t not in target.keypoints or s not in src_schema.keypoints]
    if bad:
        raise ConfigError(f"{source.source}: keypoint_map entries name unknown keypoints ({', '.join(bad)}); "
                          f"model has {list(target.keypoints)}, source has {list(src_schema.keypoints)}")
    tgt_idx = np.array([target.keypoints.index(t) for t in keypoint_map], np.int64)
    src_idx = np.array([src_schema.keypoints.index(s) for s in keypoint_map.values()], np.int64)
    anns = []
    for a in source.annotations:
        if a["category_id"] != source_category_id:
            continue
        kp = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
        out = np.zeros((target.num_keypoints, 3))
        out[tgt_idx] = kp[src_idx]
        anns.append({**a, "category_id": int(target_category["id"]), "keypoints": out.reshape(-1).tolist(),
                     "num_keypoints": int((out[:, 2] > 0).sum())})
    return CocoDataset(source.images, anns, [target_category], source=source.source, extra=dict(source.extra))


def training_sets(method, coco: CocoDataset, crops: dict[str, Any]) -> list[torch.utils.data.Dataset]:
    """The extra training datasets of ``method.cfg.strategies`` (``crops``: InstanceCropDataset arguments)."""
    st = method.cfg.strategies
    out: list[torch.utils.data.Dataset] = []
    if st.hard_negatives.detections:
        negatives = mine_hard_negatives(coco, _read_results(st.hard_negatives.detections, "hard-negative detections"),
                                        st.hard_negatives.score_threshold, st.hard_negatives.detections)
        if negatives:
            out.append(HardNegativeCrops(coco, method.schemas, negatives, **crops))
    pl = st.pseudo_labels
    if (pl.images is None) != (pl.predictions is None):
        raise ConfigError("method.strategies.pseudo_labels needs both 'images' and 'predictions'")
    if pl.images:
        unlabelled = load_coco(pl.images, image_root=pl.image_root)
        labelled = pseudo_label_coco(unlabelled, _read_results(pl.predictions, "teacher predictions"),
                                     pl.keypoint_threshold, pl.pose_threshold)
        out.append(InstanceCropDataset(labelled, method.schemas, train=True, **crops))
    for extra in st.extra_datasets:
        if extra.category_id not in method.schemas or extra.category_id not in coco.category_by_id:
            raise ConfigError(f"method.strategies.extra_datasets: category {extra.category_id} is not one of the "
                              f"model's {sorted(method.schemas)}")
        mapped = remap_coco(load_coco(extra.annotations, image_root=extra.image_root),
                            method.schemas[extra.category_id], coco.category_by_id[extra.category_id],
                            extra.source_category_id, extra.keypoint_map)
        out.append(InstanceCropDataset(mapped, method.schemas, train=True, **crops))
    return out
