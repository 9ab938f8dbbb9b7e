"""A dataset of one fixed-size crop per object box (ground-truth boxes or detections).

Each item is ``(image (3, H, W) float32 in [0, 1], targets, meta)``: the crop as a tensor, the
targets of ``encode(sample)`` (a :class:`~kpdet.structures.Sample` holding the crop and the one
instance in crop coordinates), and meta with ``image_id``, ``category_id``, ``bbox``,
``box_score``, ``ann_id`` and ``crop_to_image`` (2×3), the inverse of the crop affine, which
maps anything predicted on the crop back to original image pixels.

Which boxes:
* training: every non-crowd annotation of a category the model knows (K > 0) with at least
  one labelled keypoint and a box of positive size;
* testing with ``boxes=None``: the same ground-truth boxes (SimpleBaseline's GT-box protocol),
  box score 1;
* testing with detections: every detection dict ``{image_id, category_id, bbox, score}`` of a
  known category.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from kpdet.data.coco import CocoDataset
from kpdet.data.transforms import (ColorJitter, HalfBody, ScaleRotateJitter, body_halves, box_to_center_size,
                                   crop_affine, flip_keypoint_order, warp_image, warp_keypoints)
from kpdet.errors import DataError
from kpdet.ops.affine import apply_affine, invert_affine
from kpdet.schema import KeypointSchema
from kpdet.structures import Instances, Sample


@dataclass(frozen=True)
class CropAugment:
    """Training-time augmentation of instance crops, applied in this order: half-body box,
    scale/rotation jitter, horizontal flip (with the schema's left/right swap), colour."""

    jitter: ScaleRotateJitter | None = ScaleRotateJitter()
    flip_prob: float = 0.5
    half_body: HalfBody | None = HalfBody()
    color: ColorJitter | None = None
    # explicit (upper, lower) keypoint indices per category id; others use body_halves()
    halves: dict[int, tuple[Sequence[int], Sequence[int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Record:
    image_id: int
    category_id: int
    bbox: np.ndarray  # (4,) xywh
    score: float
    keypoints: np.ndarray | None  # (K, 3) of the category, None for detections
    ann_id: int


class InstanceCropDataset(torch.utils.data.Dataset):
    def __init__(self, coco: CocoDataset, schemas: dict[int, KeypointSchema], *, input_size: tuple[int, int],
                 encode: Callable[[Sample], dict[str, Any]] | None = None, train: bool = False,
                 boxes: Iterable[dict[str, Any]] | None = None, padding: float = 1.25,
                 augment: CropAugment | None = None):
        self.coco = coco
        self.schemas = {c: s for c, s in schemas.items() if s.num_keypoints > 0}
        self.input_size = (int(input_size[0]), int(input_size[1]))  # H, W
        self.encode = encode
        self.train = train
        self.padding = padding
        self.augment = augment if train else None
        self.halves = {c: body_halves(s) for c, s in self.schemas.items()}
        if self.augment is not None:
            for c, (up, low) in self.augment.halves.items():
                self.halves[c] = (np.asarray(up, np.int64), np.asarray(low, np.int64))
        self.records = self._gt_records() if boxes is None or train else self._detection_records(boxes)

    @property
    def aspect(self) -> float:
        return self.input_size[1] / self.input_size[0]

    def _gt_records(self) -> list[_Record]:
        out = []
        for a in self.coco.annotations:
            schema = self.schemas.get(a["category_id"])
            if schema is None or a.get("iscrowd"):
                continue
            kp = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)[: schema.num_keypoints]
            box = np.asarray(a["bbox"], np.float64)
            if not (kp[:, 2] > 0).any() or box[2] <= 0 or box[3] <= 0:
                continue
            out.append(_Record(a["image_id"], a["category_id"], box, 1.0, kp, int(a["id"])))
        return out

    def _detection_records(self, boxes: Iterable[dict[str, Any]]) -> list[_Record]:
        out = []
        for i, d in enumerate(boxes):
            try:
                image_id, cat = int(d["image_id"]), int(d["category_id"])
                box = np.asarray(d["bbox"], np.float64).reshape(4)
                score = float(d.get("score", 1.0))
            except (KeyError, TypeError, ValueError) as e:
                raise DataError("detections", f"expected image_id, category_id, bbox [x, y, w, h], score: {e}",
                                record=f"detection #{i}") from None
            if image_id not in self.coco.image_by_id:
                raise DataError("detections", f"unknown image_id {image_id}", record=f"detection #{i}",
                                field="image_id")
            if cat in self.schemas and box[2] > 0 and box[3] > 0:
                out.append(_Record(image_id, cat, box, score, None, -1))
        return out

    def __len__(self) -> int:
        return len(self.records)

    def crop(self, rec: _Record, image: np.ndarray, rng: np.random.Generator | None = None
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """→ crop (H, W, 3) uint8, keypoints in crop pixels (K, 3) or None, image→crop affine (2, 3)."""
        h, w = self.input_size
        center, size = box_to_center_size(rec.bbox, self.aspect, self.padding)
        rotation, flip = 0.0, False
        aug = self.augment
        if aug is not None and rng is not None:
            if aug.half_body is not None and rec.keypoints is not None:
                half = aug.half_body(rec.keypoints, self.aspect, rng, self.halves.get(rec.category_id))
                if half is not None:
                    center, size = half
            if aug.jitter is not None:
                scale, rotation = aug.jitter(rng)
                size = size * scale
            flip = bool(rng.random() < aug.flip_prob)
        matrix = crop_affine(center, size, (w, h), rotation, flip)
        crop = warp_image(image, matrix, (w, h))
        keypoints = None
        if rec.keypoints is not None:
            keypoints = warp_keypoints(rec.keypoints, matrix)
            if flip:
                keypoints = flip_keypoint_order(keypoints, self.schemas[rec.category_id].flip_index)
        if aug is not None and rng is not None and aug.color is not None:
            crop = aug.color(crop, rng)
        return crop, keypoints, matrix

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any], dict[str, Any]]:
        rec = self.records[index]
        image = self.coco.load_image(rec.image_id)
        # one generator per item, seeded from torch's RNG: differs per epoch and per worker
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()))) if self.augment is not None else None
        crop, keypoints, matrix = self.crop(rec, image, rng)
        meta: dict[str, Any] = {
            "image_id": rec.image_id, "category_id": rec.category_id, "ann_id": rec.ann_id,
            "bbox": rec.bbox, "box_score": rec.score, "crop_to_image": invert_affine(matrix),
            "image_size": (image.shape[0], image.shape[1]),
        }
        targets: dict[str, Any] = {}
        if self.encode is not None:
            k = self.schemas[rec.category_id].num_keypoints
            kp = keypoints if keypoints is not None else np.zeros((k, 3))
            x, y, bw, bh = rec.bbox
            corners = apply_affine(np.array([[x, y], [x + bw, y], [x, y + bh], [x + bw, y + bh]]), matrix)
            lo, hi = corners.min(0), corners.max(0)
            inst = Instances(keypoints=kp[None], boxes=np.array([[*lo, *(hi - lo)]]),
                             category_ids=np.array([rec.category_id]), areas=np.array([bw * bh]),
                             iscrowd=np.zeros(1, bool), ids=np.array([rec.ann_id]))
            targets = self.encode(Sample(crop, rec.image_id, inst, meta))
        tensor = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255.0)
        return tensor, targets, meta
