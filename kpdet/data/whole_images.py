"""A dataset of whole images fitted into a fixed input size, for bottom-up methods.

Each item is ``(image (3, H, W) float32 in [0, 1], targets, meta)``: the image letter-boxed
(aspect kept, black padding) into the input by one affine, the targets of
``encode(sample)`` (a :class:`~kpdet.structures.Sample` with every annotation of the image
in input coordinates), and meta with ``image_id``, ``image_size`` and ``input_to_image``
(2×3), the inverse affine that maps predictions back to original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from kpdet.data.coco import CocoDataset
from kpdet.data.transforms import ColorJitter, box_to_center_size, crop_affine, warp_image, warp_keypoints
from kpdet.ops.affine import apply_affine, invert_affine
from kpdet.schema import KeypointSchema
from kpdet.structures import Instances, Sample


@dataclass(frozen=True)
class ImageAugment:
    """Random scale ×uniform(scale_min, scale_max) (> 1 zooms in), rotation uniform ±rotation
    degrees, shift of the centre by uniform ±translate of the view, horizontal flip with the
    schemas' left/right swap, colour jitter."""

    scale_min: float = 0.75
    scale_max: float = 1.25
    rotation: float = 30.0
    translate: float = 0.2
    flip_prob: float = 0.5
    color: ColorJitter | None = None


class WholeImageDataset(torch.utils.data.Dataset):
    def __init__(self, coco: CocoDataset, schemas: dict[int, KeypointSchema], *, input_size: tuple[int, int],
                 encode: Callable[[Sample], dict[str, Any]] | None = None, train: bool = False,
                 augment: ImageAugment | None = None):
        self.coco = coco
        self.schemas = {c: s for c, s in schemas.items() if s.num_keypoints > 0}
        self.input_size = (int(input_size[0]), int(input_size[1]))  # H, W
        self.encode = encode
        self.augment = augment if train else None
        self.image_ids = [img["id"] for img in coco.images]
        kmax = max((s.num_keypoints for s in self.schemas.values()), default=0)
        self.flip_index = {c: np.concatenate([s.flip_index, np.arange(s.num_keypoints, kmax)])
                           for c, s in self.schemas.items()}

    def __len__(self) -> int:
        return len(self.image_ids)

    def affine(self, image_hw: tuple[int, int], rng: np.random.Generator | None) -> tuple[np.ndarray, bool]:
        """(2, 3) image → input matrix (letter-box, then the random jitter) and whether it mirrors."""
        h, w = self.input_size
        ih, iw = image_hw
        center, size = box_to_center_size(np.array([-0.5, -0.5, iw, ih]), w / h, 1.0)
        rotation, flip = 0.0, False
        aug = self.augment
        if aug is not None and rng is not None:
            size = size / rng.uniform(aug.scale_min, aug.scale_max)
            rotation = float(rng.uniform(-aug.rotation, aug.rotation))
            center = center + rng.uniform(-aug.translate, aug.translate, 2) * size
            flip = bool(rng.random() < aug.flip_prob)
        return crop_affine(center, size, (w, h), rotation, flip), flip

    def instances(self, image_id: int, matrix: np.ndarray, flip: bool) -> Instances:
        inst = self.coco.instances(image_id)
        keep = np.array([c in self.schemas for c in inst.category_ids], bool)
        inst = inst.select(keep)
        kps = warp_keypoints(inst.keypoints, matrix)
        if flip:
            for n, c in enumerate(inst.category_ids):
                kps[n] = kps[n, self.flip_index[int(c)]]
        x, y, bw, bh = (inst.boxes[:, i] for i in range(4))
        corners = np.stack([np.stack([x, y], -1), np.stack([x + bw, y], -1), np.stack([x, y + bh], -1),
                            np.stack([x + bw, y + bh], -1)], 1)  # (N, 4, 2)
        warped = apply_affine(corners, matrix)
        lo, hi = warped.min(1), warped.max(1)
        boxes = np.concatenate([lo, hi - lo], 1) if len(inst) else inst.boxes
        return Instances(kps, boxes, inst.category_ids, inst.areas, inst.iscrowd, inst.ids, inst.occlusion)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any], dict[str, Any]]:
        image_id = self.image_ids[index]
        image = self.coco.load_image(image_id)
        # one generator per item, seeded from torch's RNG: differs per epoch and per worker
        rng = np.random.default_rng(int(torch.randint(0, 2**62, ()))) if self.augment is not None else None
        matrix, flip = self.affine(image.shape[:2], rng)
        h, w = self.input_size
        view = warp_image(image, matrix, (w, h))
        if self.augment is not None and self.augment.color is not None:
            view = self.augment.color(view, rng)
        meta: dict[str, Any] = {"image_id": image_id, "image_size": (image.shape[0], image.shape[1]),
                                "input_to_image": invert_affine(matrix)}
        targets: dict[str, Any] = {}
        if self.encode is not None:
            targets = self.encode(Sample(view, image_id, self.instances(image_id, matrix, flip), meta))
        tensor = torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1).float().div_(255.0)
        return tensor, targets, meta
