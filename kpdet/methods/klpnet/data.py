"""Whole-image dataset for KLPNet: letterbox to a square input, optional horizontal flip, then
:class:`ObjectTargets` (the method's ``encode``) pads the objects into fixed-size arrays.

Each item is ``(image (3, S, S) float32 in [0, 1], targets, meta)``. Targets (fixed size, so the
default collate stacks them): ``boxes (N, 4)`` xyxy in input pixels, ``classes (N,)`` model category
indices, ``keypoints (N, Kmax, 3)`` in input pixels, ``valid (N,)``; N = ``max_objects``. Meta holds
``image_id`` and ``scale``: input = scale · (image + 0.5) − 0.5 (pixel-centre convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from kpdet.data.coco import CocoDataset
from kpdet.schema import KeypointSchema
from kpdet.structures import Instances, Sample


@dataclass(frozen=True)
class ObjectTargets:
    """Sample (in input pixels) → padded target arrays; objects past ``max_objects`` are dropped."""

    index: dict[int, int]  # category id → model category index
    kmax: int
    max_objects: int

    def __call__(self, sample: Sample) -> dict[str, np.ndarray]:
        inst = sample.instances
        keep = np.array([int(c) in self.index for c in inst.category_ids], bool) & ~inst.iscrowd
        keep &= (inst.boxes[:, 2] > 0) & (inst.boxes[:, 3] > 0)
        inst = inst.select(keep)
        n = min(len(inst), self.max_objects)
        boxes = np.zeros((self.max_objects, 4), np.float32)
        kps = np.zeros((self.max_objects, self.kmax, 3), np.float32)
        classes = np.zeros((self.max_objects,), np.int64)
        b = inst.boxes[:n]
        boxes[:n] = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1)
        k = min(self.kmax, inst.keypoints.shape[1])
        kps[:n, :k] = inst.keypoints[:n, :k]
        classes[:n] = [self.index[int(c)] for c in inst.category_ids[:n]]
        valid = np.arange(self.max_objects) < n
        return {"boxes": boxes, "classes": classes, "keypoints": kps, "valid": valid}


class LetterboxDataset(torch.utils.data.Dataset):
    def __init__(self, coco: CocoDataset, schemas: dict[int, KeypointSchema], *, input_size: int, encode: ObjectTargets,
                 train: bool, flip_prob: float = 0.0):
        self.coco = coco
        self.encode = encode
        self.flip = {c: s.flip_index for c, s in schemas.items() if c in encode.index}
        self.size = input_size
        self.train = train
        self.flip_prob = flip_prob if train else 0.0
        ids = [img["id"] for img in coco.images]
        if train:
            ids = [i for i in ids if any(a["category_id"] in encode.index and not a.get("iscrowd")
                                         for a in coco.anns_by_image[i])]
        self.image_ids = ids

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, Any], dict[str, Any]]:
        image_id = self.image_ids[i]
        rng = np.random.default_rng((torch.initial_seed() + i) % 2 ** 32)
        image = self.coco.load_image(image_id)  # (H, W, 3) uint8; DataError when undecodable
        h, w = image.shape[:2]
        s = self.size / max(h, w)
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        canvas = np.zeros((self.size, self.size, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        inst = self.coco.instances(image_id)
        if self.train:  # a random subset survives max_objects
            inst = inst.select(rng.permutation(len(inst)))
        kps = inst.keypoints.copy()
        kps[..., :2] = np.where(kps[..., 2:] > 0, s * (kps[..., :2] + 0.5) - 0.5, 0)
        boxes = inst.boxes.copy()
        boxes[:, :2] = s * (boxes[:, :2] + 0.5) - 0.5
        boxes[:, 2:] *= s
        if self.flip_prob > 0 and rng.random() < self.flip_prob:
            canvas = canvas[:, ::-1].copy()
            boxes[:, 0] = self.size - 1 - boxes[:, 0] - boxes[:, 2]
            kps[..., 0] = np.where(kps[..., 2] > 0, self.size - 1 - kps[..., 0], 0)
            for j, c in enumerate(inst.category_ids):  # mirrored left/right keypoints swap names
                fi = self.flip.get(int(c))
                if fi is not None:
                    kps[j, : len(fi)] = kps[j, fi]
        scaled = Instances(kps, boxes, inst.category_ids, inst.areas * s * s, inst.iscrowd, inst.ids, inst.occlusion)
        meta = {"image_id": int(image_id), "scale": float(s), "size": (h, w)}
        targets = self.encode(Sample(canvas, int(image_id), scaled, dict(meta)))
        tensor = torch.from_numpy(np.ascontiguousarray(canvas.transpose(2, 0, 1))).float() / 255.0
        return tensor, targets, meta
