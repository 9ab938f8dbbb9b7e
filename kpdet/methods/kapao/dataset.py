"""Whole-image dataset for KAPAO: items are (image (3, H, W) in [0, 1], targets, meta).

Training: mosaic of four letterboxed images (probability ``mosaic_prob``) or one letterboxed
image, then a random zoom and translation onto the ``input_size`` square, HSV gains and a
mirror with left/right keypoints swapped (hyp.kp.yaml). Evaluation: letterbox only, the
longer side fitted to ``input_size``; rectangular (each side padded to a multiple of 64) when
``rect``, else square.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from kpdet.methods.kapao import augment as A
from kpdet.methods.kapao.config import AugmentConfig
from kpdet.structures import Instances, Sample

FILL = 114


class KapaoDataset(Dataset):
    def __init__(self, coco: Any, *, input_size: int, encode: Callable[[Sample], dict[str, Any]],
                 flip_index: dict[int, np.ndarray], augment: AugmentConfig | None, rect: bool = True):
        self.coco, self.size, self.encode = coco, input_size, encode
        self.flip_index, self.augment, self.rect = flip_index, augment, rect
        self.ids = [img["id"] for img in coco.images]

    def __len__(self) -> int:
        return len(self.ids)

    def _load(self, index: int) -> tuple[np.ndarray, Instances]:
        image_id = self.ids[index]
        return self.coco.load_image(image_id), self.coco.instances(image_id)

    def __getitem__(self, index: int):
        image_id = self.ids[index]
        if self.augment is None:
            image, inst = self._load(index)
            h, w = image.shape[:2]
            matrix, r = A.letterbox_matrix(h, w, self.size)
            out_hw = ((-(-round(h * r) // 64) * 64, -(-round(w * r) // 64) * 64) if self.rect
                      else (self.size, self.size))
            out = A.warp(image, matrix, out_hw, FILL)
            inst = A.transform_instances(inst, matrix)
            meta = {"image_id": image_id, "input_to_image": np.linalg.inv(matrix)[:2], "input_size": self.size}
        else:
            out, inst = self._train_item(index, np.random.default_rng(torch.randint(0, 2**31, ()).item()))
            meta = {"image_id": image_id, "input_to_image": np.eye(3)[:2], "input_size": self.size}
        targets = self.encode(Sample(out, image_id, inst, {"input_hw": out.shape[:2]}))
        tensor = torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))).float().div_(255)
        return tensor, targets, meta

    def _train_item(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, Instances]:
        a, s = self.augment, self.size
        if rng.random() < a.mosaic_prob:
            canvas, inst = self._mosaic(index, rng)
            centre = s
        else:
            image, inst = self._load(index)
            matrix, _ = A.letterbox_matrix(*image.shape[:2], s)
            canvas, inst = A.warp(image, matrix, (s, s), FILL), A.transform_instances(inst, matrix)
            centre = s / 2
        zoom = rng.uniform(1 - a.scale, 1 + a.scale)
        tx, ty = rng.uniform(0.5 - a.translate, 0.5 + a.translate, 2) * s
        matrix = np.array([[zoom, 0, tx - zoom * centre], [0, zoom, ty - zoom * centre], [0, 0, 1]])
        out = A.warp(canvas, matrix, (s, s), FILL)
        inst = A.clip_instances(A.transform_instances(inst, matrix), s, s, a.min_box_side)
        out = A.hsv_gains(out, rng, a.hsv_h, a.hsv_s, a.hsv_v)
        if rng.random() < a.flip_prob:
            out = np.ascontiguousarray(out[:, ::-1])
            inst = A.flip_instances(inst, s, self.flip_index)
        return out, inst

    def _mosaic(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, Instances]:
        """Four letterboxed images around a random centre of a (2S, 2S) canvas (YOLOv4/v5 mosaic)."""
        import cv2

        s = self.size
        canvas = np.full((2 * s, 2 * s, 3), FILL, np.uint8)
        xc, yc = rng.uniform(0.5 * s, 1.5 * s, 2)
        parts = []
        for q, i in enumerate([index, *rng.integers(0, len(self.ids), 3)]):
            image, inst = self._load(int(i))
            h, w = image.shape[:2]
            r = s / max(h, w)
            hh, ww = h * r, w * r
            x0 = xc - ww if q in (0, 2) else xc
            y0 = yc - hh if q in (0, 1) else yc
            matrix = A.scale_translate(r, x0, y0)
            cv2.warpAffine(image, matrix[:2], (2 * s, 2 * s), dst=canvas, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_TRANSPARENT)
            parts.append(A.transform_instances(inst, matrix))
        kmax = max(p.keypoints.shape[1] for p in parts)
        parts = [_pad_keypoints(p, kmax) for p in parts]
        merged = Instances(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                             ("keypoints", "boxes", "category_ids", "areas", "iscrowd", "ids")))
        return canvas, merged


def _pad_keypoints(inst: Instances, kmax: int) -> Instances:
    k = inst.keypoints.shape[1]
    if k == kmax:
        return inst
    kps = np.zeros((len(inst), kmax, 3))
    kps[:, :k] = inst.keypoints
    return Instances(kps, inst.boxes, inst.category_ids, inst.areas, inst.iscrowd, inst.ids, None)


def collate(items) -> tuple[torch.Tensor, dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Pad images to the batch's largest H, W (bottom/right, grey); labels get their image index.

    targets["labels"]  # (M, 6 + 3·K_max): image index, class, cx, cy, w, h, (x, y, v) × K_max
    """
    h = max(it[0].shape[1] for it in items)
    w = max(it[0].shape[2] for it in items)
    images = torch.full((len(items), 3, h, w), FILL / 255)
    rows = []
    for b, (img, tg, _) in enumerate(items):
        images[b, :, : img.shape[1], : img.shape[2]] = img
        lab = torch.as_tensor(tg["labels"], dtype=torch.float32)
        rows.append(torch.cat([torch.full((len(lab), 1), float(b)), lab], 1))
    return images, {"labels": torch.cat(rows)}, [it[2] for it in items]
