"""Data records passed between data, methods, evaluation and drawing.

Coordinate convention (stated once, used everywhere)
----------------------------------------------------
* Image coordinates are continuous pixels with the CENTRE of pixel (row i, column j)
  at (x, y) = (j, i). The top-left image corner is therefore (-0.5, -0.5) and the
  bottom-right corner (W - 0.5, H - 0.5). This is the convention of COCO keypoints
  and of ``cv2.warpAffine``, so crop affines need no half-pixel fix-ups.
* Boxes are COCO ``[x, y, w, h]`` in the same coordinates: the box spans
  ``[x, x + w] × [y, y + h]``.
* A map (heatmap, feature map) of stride ``s`` over an input of size ``W`` has
  ``W / s`` cells; cell ``u`` covers input pixels ``s·u … s·u + s − 1`` and its centre
  sits at ``x = s·u + (s − 1) / 2``. :func:`map_to_image` / :func:`image_to_map` implement
  this mapping; every codec uses them so that encode → decode round trips are exact.
* Keypoints are ``(K, 3)`` arrays ``x, y, v`` with v = 0 not labelled, 1 labelled but
  hidden, 2 visible (COCO). In predictions the third column is a score in [0, 1].

This module imports only NumPy: commands that read data must start without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def map_to_image(u: np.ndarray | float, stride: float) -> np.ndarray | float:
    """Map-cell coordinate → input-pixel coordinate (centre convention above)."""
    return u * stride + (stride - 1) / 2


def image_to_map(x: np.ndarray | float, stride: float) -> np.ndarray | float:
    """Input-pixel coordinate → map-cell coordinate; inverse of :func:`map_to_image`."""
    return (x - (stride - 1) / 2) / stride


@dataclass
class Instances:
    """The labelled objects of one image, padded to the widest keypoint set present.

    keypoints  # (N, Kmax, 3) x, y, v; columns past a category's K are zeros (v = 0)
    boxes      # (N, 4) COCO xywh
    """

    keypoints: np.ndarray
    boxes: np.ndarray
    category_ids: np.ndarray  # (N,) int64
    areas: np.ndarray  # (N,) float64
    iscrowd: np.ndarray  # (N,) bool
    ids: np.ndarray  # (N,) int64 annotation ids (-1 when synthetic/unknown)
    occlusion: np.ndarray | None = None  # (N,) int occlusion level L0..L3, when known

    def __len__(self) -> int:
        return len(self.boxes)

    @staticmethod
    def empty(num_keypoints: int = 0) -> "Instances":
        return Instances(
            keypoints=np.zeros((0, num_keypoints, 3), np.float64),
            boxes=np.zeros((0, 4), np.float64),
            category_ids=np.zeros((0,), np.int64),
            areas=np.zeros((0,), np.float64),
            iscrowd=np.zeros((0,), bool),
            ids=np.zeros((0,), np.int64),
        )

    def select(self, mask: np.ndarray) -> "Instances":
        occ = None if self.occlusion is None else self.occlusion[mask]
        return Instances(self.keypoints[mask], self.boxes[mask], self.category_ids[mask],
                         self.areas[mask], self.iscrowd[mask], self.ids[mask], occ)


@dataclass
class Sample:
    """One image and its labels, as the data pipeline hands it to ``Method.encode``.

    image  # (H, W, 3) uint8 RGB
    """

    image: np.ndarray
    image_id: int
    instances: Instances
    meta: dict[str, Any] = field(default_factory=dict)  # file name, original size, affine, …


@dataclass
class Prediction:
    """One detected object in the COCO results format (plus ``bbox`` and ``links``).

    keypoints  # (K, 3) x, y, score in image coordinates
    bbox       # (4,) COCO xywh, or None
    links      # (L, 3) i, j, probability with 0-based keypoint indices, or None
    track_id   # the instance's identity across video frames (kpdet.tracking), or None
    """

    image_id: int
    category_id: int
    keypoints: np.ndarray
    score: float
    bbox: np.ndarray | None = None
    links: np.ndarray | None = None
    track_id: int | None = None

    def to_coco(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "image_id": int(self.image_id),
            "category_id": int(self.category_id),
            "keypoints": [round(float(v), 4) for v in np.asarray(self.keypoints, np.float64).reshape(-1)],
            "score": float(self.score),
        }
        if self.bbox is not None:
            out["bbox"] = [round(float(v), 3) for v in np.asarray(self.bbox).reshape(-1)]
        if self.links is not None:
            out["links"] = [[int(i), int(j), round(float(p), 4)] for i, j, p in np.asarray(self.links).reshape(-1, 3)]
        if self.track_id is not None:
            out["track_id"] = int(self.track_id)
        return out

    @staticmethod
    def from_coco(d: dict[str, Any]) -> "Prediction":
        kp = np.asarray(d["keypoints"], np.float64).reshape(-1, 3)
        bbox = None if d.get("bbox") is None else np.asarray(d["bbox"], np.float64)
        links = None if d.get("links") is None else np.asarray(d["links"], np.float64).reshape(-1, 3)
        track = None if d.get("track_id") is None else int(d["track_id"])
        return Prediction(int(d["image_id"]), int(d["category_id"]), kp, float(d["score"]), bbox, links, track)
