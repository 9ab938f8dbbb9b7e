"""Whole-image dataset for KLPNet: letterbox to a square input, optional horizontal flip.

Each item is ``(image (3, S, S) float32 in [0, 1], targets, meta)``. Targets (fixed size, so the
default collate stacks them): ``boxes (N, 4)`` xyxy in input pixels, ``classes (N,)`` model category
indices, ``keypoints (N, Kmax, 3)`` in input pixels, ``valid (N,)``; N = ``max_objects``. Meta holds
``image_id`` and ``scale``: input = scale · (image + 0.5) − 0.5 (pixel-centre convention).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from kpdet.data.coco import CocoDataset
from kpdet.schema import KeypointSchema


class LetterboxDataset(torch.utils.data.Dataset):
    def __init__(self, coco: CocoDataset, schemas: dict[int, KeypointSchema], *, input_size: int, max_objects: int,
                 train: bool, flip_prob: float = 0.0, seed: int = 0):
        self.coco = coco
        self.cat_ids = sorted(c for c, s in schemas.items() if s.num_keypoints > 0)
        self.index = {c: i for i, c in enumerate(self.cat_ids)}
        self.kmax = max(schemas[c].num_keypoints for c in self.cat_ids)
        self.flip = {c: schemas[c].flip_index for c in self.cat_ids}
        self.size = input_size
        self.max_objects = max_objects
        self.train = train
        self.flip_prob = flip_prob if train else 0.0
        self.rng = np.random.default_rng(seed)
        ids = [img["id"] for img in coco.images]
        if train:
            ids = [i for i in ids if any(a["category_id"] in self.index and not a.get("iscrowd")
                                         for a in coco.anns_by_image[i])]
        self.image_ids = ids

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, Any], dict[str, Any]]:
        image_id = self.image_ids[i]
        rng = np.random.default_rng((torch.initial_seed() + i) % 2 ** 32) if self.train else self.rng
        image = self.coco.load_image(image_id)  # (H, W, 3) uint8; DataError when undecodable
        h, w = image.shape[:2]
        s = self.size / max(h, w)
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        canvas = np.zeros((self.size, self.size, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        inst = self.coco.instances(image_id)
        keep = np.array([c in self.index for c in inst.category_ids], bool) & ~inst.iscrowd
        inst = inst.select(keep)
        n = min(len(inst), self.max_objects)
        boxes = np.zeros((self.max_objects, 4), np.float32)
        kps = np.zeros((self.max_objects, self.kmax, 3), np.float32)
        classes = np.zeros((self.max_objects,), np.int64)
        valid = np.zeros((self.max_objects,), bool)
        if n:
            order = rng.permutation(len(inst))[:n] if self.train else np.arange(n)
            b = inst.boxes[order]
            boxes[:n] = s * (np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1) + 0.5) - 0.5
            k = inst.keypoints[order][:, : self.kmax]
            kps[:n, : k.shape[1], :2] = s * (k[..., :2] + 0.5) - 0.5
            kps[:n, : k.shape[1], 2] = k[..., 2]
            classes[:n] = [self.index[int(c)] for c in inst.category_ids[order]]
            valid[:n] = (b[:, 2] > 0) & (b[:, 3] > 0)
        if self.flip_prob > 0 and rng.random() < self.flip_prob:
            canvas = canvas[:, ::-1].copy()
            boxes[:n, [0, 2]] = self.size - 1 - boxes[:n, [2, 0]]
            kps[:n, :, 0] = np.where(kps[:n, :, 2] > 0, self.size - 1 - kps[:n, :, 0], 0)
            for j in range(n):  # mirrored left/right keypoints swap names
                fi = self.flip[self.cat_ids[classes[j]]]
                kps[j, : len(fi)] = kps[j, fi]
        tensor = torch.from_numpy(np.ascontiguousarray(canvas.transpose(2, 0, 1))).float() / 255.0
        targets = {"boxes": boxes, "classes": classes, "keypoints": kps, "valid": valid}
        return tensor, targets, {"image_id": int(image_id), "scale": float(s), "size": (h, w)}
