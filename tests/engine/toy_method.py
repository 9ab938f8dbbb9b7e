"""A tiny method for engine tests: regresses the keypoints of the first instance of an image.

Registered on import (``import toy_method``), so engine tests do not depend on a real method.
Its dataset applies a random brightness (numpy RNG) and the model has dropout (torch RNG), so
reproducibility tests exercise both random streams.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from kpdet.schema import KeypointSchema
from kpdet.methods import register
from kpdet.methods.base import Method, MethodConfig
from kpdet.structures import Prediction


class ToyConfig(MethodConfig):
    name: str = "toy"
    input_size: int = 32
    width: int = 8
    dropout: float = 0.1
    jitter: float = 0.2
    nan_after: Optional[int] = None  # loss() turns NaN from this call on (NaN-stop test)


class ToyDataset(torch.utils.data.Dataset):
    def __init__(self, coco, size: int, train: bool, jitter: float):
        self.coco, self.size, self.train, self.jitter = coco, size, train, jitter
        self.ids = [img["id"] for img in coco.images if coco.anns_by_image[img["id"]] or not train]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        import cv2

        image_id = self.ids[i]
        img = self.coco.load_image(image_id)  # DataError when unreadable
        h, w = img.shape[:2]
        x = cv2.resize(img, (self.size, self.size)).astype(np.float32) / 255.0
        if self.train:
            x = x * (1.0 + np.random.uniform(-self.jitter, self.jitter))
        inst = self.coco.instances(image_id)
        k = self.coco.max_keypoints
        kp = inst.keypoints[0] if len(inst) else np.zeros((k, 3))
        uv = (kp[:, :2] + 0.5) / np.array([w, h])  # image coordinates -> [0, 1]
        targets = {"uv": uv.astype(np.float32), "vis": (kp[:, 2] > 0).astype(np.float32)}
        meta = {"image_id": int(image_id), "size": (w, h)}
        return torch.from_numpy(x).permute(2, 0, 1).contiguous(), targets, meta


@register
class ToyMethod(Method):
    name = "toy"
    Config = ToyConfig

    def __init__(self, cfg: ToyConfig, schemas):
        super().__init__(cfg, schemas)
        self.category_id = min(self.schemas)
        self.k = self.schemas[self.category_id].num_keypoints
        w = cfg.width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg.dropout), nn.Linear(2 * w, self.k * 2))
        self.calls = 0

    def build_dataset(self, coco, *, train: bool, boxes: Any = None):
        return ToyDataset(coco, self.cfg.input_size, train, self.cfg.jitter)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).view(len(images), self.k, 2).sigmoid()  # (B, K, 2) in [0, 1]

    def loss(self, outputs, targets):
        self.calls += 1
        vis = targets["vis"]
        coord = ((outputs - targets["uv"]).abs().sum(-1) * vis).sum() / vis.sum().clamp(min=1)
        if self.cfg.nan_after is not None and self.calls >= self.cfg.nan_after:
            coord = coord * float("nan")
        return {"coord": coord, "spread": 0.01 * (outputs - 0.5).pow(2).mean()}

    @torch.no_grad()
    def decode(self, outputs, meta):
        preds = []
        for uv, m in zip(outputs.float().cpu().numpy(), meta):
            w, h = m["size"]
            xy = uv * np.array([w, h]) - 0.5
            kp = np.concatenate([xy, np.ones((self.k, 1))], 1)
            lo, hi = xy.min(0), xy.max(0)
            preds.append(Prediction(m["image_id"], self.category_id, kp, 1.0,
                                    np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])))
        return preds

    @classmethod
    def example_input(cls, cfg):
        return torch.zeros(1, 3, cfg.input_size, cfg.input_size)


@register
class OtherToyMethod(ToyMethod):
    """A second method with the same model, to test checkpoints of another method."""

    name = "toy2"


# The toy methods' 3-keypoint schema (tests import it from here: every tests/ folder has a conftest).
DOTS = KeypointSchema("dots", ("a", "b", "c"), sigmas=(0.1, 0.1, 0.1))


class BoxToyDataset(torch.utils.data.Dataset):
    """One item per box, cropped and resized: the shape of a top-down method's test-time data."""

    def __init__(self, coco, size: int, boxes):
        self.coco, self.size = coco, size
        if boxes is None:  # contract: ground-truth boxes
            boxes = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
                     for a in coco.annotations]
        self.boxes = [b for b in boxes if b["image_id"] in coco.image_by_id]

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, i: int):
        import cv2

        det = self.boxes[i]
        img = self.coco.load_image(det["image_id"])
        x, y, w, h = det["bbox"]
        x0, y0 = int(max(0, np.floor(x + 0.5))), int(max(0, np.floor(y + 0.5)))
        x1, y1 = max(x0 + 1, int(np.ceil(x + w + 0.5))), max(y0 + 1, int(np.ceil(y + h + 0.5)))
        crop = cv2.resize(img[y0:y1, x0:x1], (self.size, self.size)).astype(np.float32) / 255.0
        k = self.coco.max_keypoints
        targets = {"uv": np.zeros((k, 2), np.float32), "vis": np.zeros(k, np.float32)}
        meta = {"image_id": int(det["image_id"]), "box": [float(v) for v in det["bbox"]],
                "score": float(det["score"]), "category_id": int(det["category_id"])}
        return torch.from_numpy(crop).permute(2, 0, 1).contiguous(), targets, meta


@register
class BoxToyMethod(ToyMethod):
    """The toy model applied per box (test-time boxes), to test how boxes reach a method."""

    name = "toybox"

    def build_dataset(self, coco, *, train: bool, boxes: Any = None):
        if train:
            return super().build_dataset(coco, train=True)
        return BoxToyDataset(coco, self.cfg.input_size, boxes)

    @torch.no_grad()
    def decode(self, outputs, meta):
        preds = []
        for uv, m in zip(outputs.float().cpu().numpy(), meta):
            x, y, w, h = m["box"]
            kp = np.concatenate([uv * np.array([w, h]) + np.array([x, y]), np.ones((self.k, 1))], 1)
            preds.append(Prediction(m["image_id"], m["category_id"], kp, m["score"], np.array(m["box"])))
        return preds
