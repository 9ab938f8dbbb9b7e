"""Whole-image augmentation for dense detectors (NumPy + OpenCV): letterbox, mosaic, random
scale/translate, HSV gains and a left/right mirror with keypoint identities swapped.

All geometry is a 3×3 image → output matrix in kpdet's pixel-centre convention (the one of
``cv2.warpAffine``), so images, boxes and keypoints move together exactly.
"""

from __future__ import annotations

import numpy as np

from kpdet.structures import Instances


def scale_translate(scale: float, tx: float, ty: float) -> np.ndarray:
    """3×3 matrix of x' = scale·x + tx in the pixel-CORNER frame, expressed for pixel centres."""
    # corner frame x_c = x + 0.5: x'_c = s·x_c + t  →  x' = s·x + 0.5·s − 0.5 + t
    off = 0.5 * scale - 0.5
    return np.array([[scale, 0, tx + off], [0, scale, ty + off], [0, 0, 1]], np.float64)


def letterbox_matrix(height: int, width: int, size: int) -> tuple[np.ndarray, float]:
    """Fit the longer side to ``size``, top-left aligned (padding right/bottom)."""
    r = size / max(height, width)
    return scale_translate(r, 0.0, 0.0), r


def mirror_matrix(width: int) -> np.ndarray:
    return np.array([[-1.0, 0, width - 1.0], [0, 1, 0], [0, 0, 1]])


def warp(image: np.ndarray, matrix: np.ndarray, out_hw: tuple[int, int], fill: int = 114) -> np.ndarray:
    import cv2

    return cv2.warpAffine(image, matrix[:2], (int(out_hw[1]), int(out_hw[0])), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(fill, fill, fill))


def transform_instances(inst: Instances, matrix: np.ndarray) -> Instances:
    """Boxes become the bounding boxes of their mapped corners; keypoints are mapped, v kept."""
    if len(inst) == 0:
        return inst
    a, t = matrix[:2, :2], matrix[:2, 2]
    kps = inst.keypoints.copy()
    kps[..., :2] = kps[..., :2] @ a.T + t
    x, y, w, h = inst.boxes.T
    corners = np.stack([np.stack([x, y], -1), np.stack([x + w, y], -1), np.stack([x, y + h], -1),
                        np.stack([x + w, y + h], -1)], 1)  # (N, 4, 2)
    mapped = corners @ a.T + t
    lo, hi = mapped.min(1), mapped.max(1)
    boxes = np.concatenate([lo, hi - lo], 1)
    return Instances(kps, boxes, inst.category_ids, inst.areas * abs(np.linalg.det(a)), inst.iscrowd,
                     inst.ids, inst.occlusion)


def clip_instances(inst: Instances, height: int, width: int, min_side: float) -> Instances:
    """Clip boxes to the image, drop those thinner than ``min_side`` or left with < 10 % of their
    area; keypoints outside the image become unlabelled (v = 0)."""
    if len(inst) == 0:
        return inst
    x1, y1 = inst.boxes[:, 0], inst.boxes[:, 1]
    x2, y2 = x1 + inst.boxes[:, 2], y1 + inst.boxes[:, 3]
    cx1, cy1 = np.clip(x1, -0.5, width - 0.5), np.clip(y1, -0.5, height - 0.5)
    cx2, cy2 = np.clip(x2, -0.5, width - 0.5), np.clip(y2, -0.5, height - 0.5)
    w, h = cx2 - cx1, cy2 - cy1
    before = np.maximum(inst.boxes[:, 2] * inst.boxes[:, 3], 1e-6)
    keep = (w > min_side) & (h > min_side) & (w * h / before > 0.1) & ~inst.iscrowd
    kps = inst.keypoints.copy()
    x, y = kps[..., 0], kps[..., 1]
    outside = (x < -0.5) | (x > width - 0.5) | (y < -0.5) | (y > height - 0.5)
    kps[outside] = 0
    out = Instances(kps, np.stack([cx1, cy1, w, h], 1), inst.category_ids, inst.areas, inst.iscrowd,
                    inst.ids, inst.occlusion)
    return out.select(keep)


def hsv_gains(image: np.ndarray, rng: np.random.Generator, h: float, s: float, v: float) -> np.ndarray:
    """YOLOv5's colour augmentation: random gains in [1 − g, 1 + g] on hue, saturation, value."""
    if h == s == v == 0:
        return image
    import cv2

    gains = rng.uniform(-1, 1, 3) * (h, s, v) + 1
    hue, sat, val = cv2.split(cv2.cvtColor(image, cv2.COLOR_RGB2HSV))
    x = np.arange(256, dtype=np.float64)
    lut_h = ((x * gains[0]) % 180).astype(np.uint8)
    lut_s = np.clip(x * gains[1], 0, 255).astype(np.uint8)
    lut_v = np.clip(x * gains[2], 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_h), cv2.LUT(sat, lut_s), cv2.LUT(val, lut_v)))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def flip_instances(inst: Instances, width: int, flip_index: dict[int, np.ndarray]) -> Instances:
    """Mirror an already-warped image's labels: x → W − 1 − x, left/right keypoints swapped."""
    if len(inst) == 0:
        return inst
    kps = inst.keypoints.copy()
    kps[..., 0] = width - 1 - kps[..., 0]
    for i, c in enumerate(inst.category_ids):
        fi = flip_index.get(int(c))
        if fi is not None:
            kps[i, : len(fi)] = kps[i, fi]
    boxes = inst.boxes.copy()
    boxes[:, 0] = width - 1 - (boxes[:, 0] + boxes[:, 2])
    return Instances(kps, boxes, inst.category_ids, inst.areas, inst.iscrowd, inst.ids, inst.occlusion)
