"""A rendered synthetic scene and its conversion to COCO annotations.

Both generators (figures, objects) render into the same structure: an RGB image, an
``owner`` map that says which instance each pixel shows, and per instance its keypoints with
the visibility that the generator's depth test found. Occluders (occlusion.py) and the final
COCO fields (this file) are then computed the same way for both.

Labelling rules (documented for users of the data):
* v = 2 visible, v = 1 inside the image but hidden (behind a nearer instance, behind the
  instance's own nearer parts, or under a pasted occluder), v = 0 outside the image; a v = 0
  keypoint is written as (0, 0, 0) like COCO.
* ``area`` is the pixel count of the instance's visible mask in the final image (COCO
  segmentation-area semantics), ``bbox`` the extent of that visible mask (COCO's convention);
  ``bbox_full`` is the extent of the whole instance rendered alone, hidden parts included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

BACKGROUND = -1
OCCLUDER = -2


@dataclass
class SceneInstance:
    category_id: int
    keypoints: np.ndarray  # (K, 3) x, y, v with v in {1, 2} from the depth test, image coordinates
    depth: float  # distance from the camera (larger = farther); painter order
    full_area: int  # pixels of the instance rendered alone
    full_box: tuple[float, float, float, float]  # xywh of the instance rendered alone
    colour: np.ndarray  # (3,) typical RGB, so that occluders can differ from it
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8 RGB (OpenCV anti-aliases only 8-bit images)
    owner: np.ndarray  # (H, W) int32 instance index, BACKGROUND or OCCLUDER
    instances: list[SceneInstance]


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """COCO xywh of a boolean mask; pixel (i, j) spans [j - 0.5, j + 0.5] × [i - 0.5, i + 0.5]."""
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (cols[0] - 0.5, rows[0] - 0.5, float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))


def visible_enough(scene: Scene, min_fraction: float, min_keypoints: int) -> bool:
    """Each instance keeps ``min_fraction`` of its own area and ``min_keypoints`` inside the image."""
    h, w = scene.owner.shape
    counts = np.bincount(scene.owner.ravel() + 2, minlength=len(scene.instances) + 2)[2:]
    for i, inst in enumerate(scene.instances):
        if counts[i] < max(1.0, min_fraction * inst.full_area):
            return False
        if int(inside_image(inst.keypoints, w, h).sum()) < min_keypoints:
            return False
    return True


def inside_image(kps: np.ndarray, w: int, h: int) -> np.ndarray:
    """(K,) bool: keypoint lies on a pixel of the image (centre convention of structures.py)."""
    x, y = kps[:, 0], kps[:, 1]
    return (x >= -0.5) & (x < w - 0.5) & (y >= -0.5) & (y < h - 0.5)


def pixel_of(kps: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(K,) rows and columns of the pixels the keypoints fall on (clipped into the image)."""
    cols = np.clip(np.floor(kps[:, 0] + 0.5).astype(np.int64), 0, w - 1)
    rows = np.clip(np.floor(kps[:, 1] + 0.5).astype(np.int64), 0, h - 1)
    return rows, cols


def to_annotations(scene: Scene, occlusion_level: int, fractions: list[float]) -> list[dict[str, Any]]:
    """COCO annotation dicts (without ``id`` / ``image_id``) for the instances of a finished scene."""
    h, w = scene.owner.shape
    anns = []
    for i, inst in enumerate(scene.instances):
        mask = scene.owner == i
        area = int(mask.sum())
        kps = inst.keypoints.astype(np.float64).copy()
        rows, cols = pixel_of(kps, w, h)
        under = scene.owner[rows, cols] == OCCLUDER
        kps[(kps[:, 2] == 2) & under, 2] = 1
        out = ~inside_image(kps, w, h)
        kps[out] = 0.0
        num = int((kps[:, 2] > 0).sum())
        if area == 0 or num == 0:
            continue
        anns.append({
            "category_id": int(inst.category_id),
            "keypoints": [round(float(v), 2) for v in kps.reshape(-1)],
            "num_keypoints": num,
            "bbox": [round(float(v), 2) for v in mask_box(mask)],
            "bbox_full": [round(float(v), 2) for v in inst.full_box],
            "area": float(area),
            "iscrowd": 0,
            "depth": round(float(inst.depth), 4),
            "occlusion_level": int(occlusion_level),
            "occluded_fraction": round(float(fractions[i]), 4),
            **inst.extra,
        })
    return anns
