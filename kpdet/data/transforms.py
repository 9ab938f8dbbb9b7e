"""Instance-crop transforms on NumPy arrays: crop affines, jitter, flips, half-body, colour.

All geometry is one 2×3 matrix per crop, image → crop, in the pixel-centre convention of
:mod:`kpdet.structures` (pixel centres at integer coordinates). That is the convention of
``cv2.warpAffine``, so the same matrix warps the image and maps the keypoints, and its
inverse maps crop predictions back to the image exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kpdet.ops.affine import apply_affine
from kpdet.schema import KeypointSchema


# -- boxes and crop affines ----------------------------------------------------------------
def box_to_center_size(box: np.ndarray, aspect: float, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """COCO box [x, y, w, h] → centre (2,) and crop size (2,) w, h with ``w / h == aspect``.

    The shorter side is grown to the crop's aspect ratio, then both are scaled by ``padding``
    (1.25 in SimpleBaseline) so the object keeps some context.
    """
    x, y, w, h = (float(v) for v in box)
    center = np.array([x + w / 2, y + h / 2])
    w, h = max(w, 1e-3), max(h, 1e-3)
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h]) * padding


def crop_affine(center: np.ndarray, size: np.ndarray, out_wh: tuple[int, int], rotation: float = 0.0,
                flip: bool = False) -> np.ndarray:
    """(2, 3) image → crop matrix.

    The region of ``size`` (w, h) image pixels around ``center`` is mapped onto the crop's
    ``[-0.5, W - 0.5] × [-0.5, H - 0.5]``; the crop shows the content turned counter-clockwise
    on screen by ``rotation`` degrees about ``center``; ``flip`` then mirrors the crop
    (column j ↔ W − 1 − j).
    """
    out_w, out_h = out_wh
    sx, sy = out_w / size[0], out_h / size[1]
    theta = np.deg2rad(rotation)
    c, s = np.cos(theta), np.sin(theta)
    # p_crop = S · R · (p − center) + crop_centre, with R rotating by −rotation in image axes
    linear = np.array([[sx * c, sx * s], [-sy * s, sy * c]])
    crop_centre = np.array([(out_w - 1) / 2, (out_h - 1) / 2])
    matrix = np.concatenate([linear, (crop_centre - linear @ np.asarray(center, np.float64))[:, None]], axis=1)
    if flip:
        matrix = np.array([[-1.0, 0.0, out_w - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
    return matrix


def warp_image(image: np.ndarray, matrix: np.ndarray, out_wh: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 → (out_h, out_w, 3) uint8; outside the image is black."""
    import cv2

    return cv2.warpAffine(image, np.asarray(matrix, np.float64), (int(out_wh[0]), int(out_wh[1])),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def warp_keypoints(keypoints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(..., K, 3) x, y, v → same with x, y mapped; v unchanged (unlabelled points keep their v = 0)."""
    out = np.array(keypoints, np.float64, copy=True)
    out[..., :2] = apply_affine(out[..., :2], np.asarray(matrix, np.float64))
    return out


def flip_keypoint_order(keypoints: np.ndarray, flip_index: np.ndarray) -> np.ndarray:
    """(..., K, 3) → left/right identities swapped (after a mirror a left wrist becomes a right one)."""
    return keypoints[..., flip_index, :]


# -- random jitter ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScaleRotateJitter:
    """SimpleBaseline's jitter: scale ×clip(1 + N(0, s), 1 − s, 1 + s); rotation
    clip(N(0, r), −2r, 2r) degrees with probability ``rotation_prob``."""

    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6

    def __call__(self, rng: np.random.Generator) -> tuple[float, float]:
        s = self.scale_factor
        scale = float(np.clip(rng.normal() * s + 1, 1 - s, 1 + s))
        rotation = 0.0
        if self.rotation_factor > 0 and rng.random() < self.rotation_prob:
            r = self.rotation_factor
            rotation = float(np.clip(rng.normal() * r, -2 * r, 2 * r))
        return scale, rotation


_LOWER_BODY = re.compile(r"hip|knee|ankle|foot|feet|heel|toe|leg|thigh|shin|calf|pelvis", re.IGNORECASE)


def body_halves(schema: KeypointSchema) -> tuple[np.ndarray, np.ndarray] | None:
    """(upper, lower) keypoint indices from the names: lower = hips, knees, ankles, feet, legs;
    upper = the rest. None when the names give no split (then :class:`HalfBody` splits by height).
    For COCO-17 this is SimpleBaseline's split: 0–10 upper, 11–16 lower."""
    lower = np.array([bool(_LOWER_BODY.search(n)) for n in schema.keypoints])
    if lower.all() or not lower.any():
        return None
    return np.flatnonzero(~lower), np.flatnonzero(lower)


@dataclass(frozen=True)
class HalfBody:
    """Replace the box by one around the upper or lower half of the labelled keypoints.

    Applies with probability ``prob`` to instances with more than ``min(min_keypoints, K // 2)``
    labelled keypoints. The halves come from ``halves`` (explicit index lists), else from the
    names (:func:`body_halves`), else — for any K without body-part names — the labelled points
    above / below their median height. Upper is chosen with probability 1/2 when it has at
    least 3 labelled points, otherwise lower. The new box is the points' bounding box around
    its centre, fixed to the crop aspect and scaled by ``padding``.
    """

    prob: float = 0.3
    min_keypoints: int = 8
    padding: float = 1.5

    def __call__(self, keypoints: np.ndarray, aspect: float, rng: np.random.Generator,
                 halves: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """keypoints (K, 3) → (centre (2,), size (2,)) or None when it does not apply."""
        labelled = keypoints[:, 2] > 0
        k = len(keypoints)
        if self.prob <= 0 or labelled.sum() <= min(self.min_keypoints, k // 2) or rng.random() >= self.prob:
            return None
        if halves is None:
            order = np.flatnonzero(labelled)
            order = order[np.argsort(keypoints[order, 1], kind="stable")]
            halves = (order[: len(order) // 2], order[len(order) // 2:])
        upper = [i for i in halves[0] if labelled[i]]
        lower = [i for i in halves[1] if labelled[i]]
        chosen = upper if (rng.random() < 0.5 and len(upper) > 2) else lower
        if len(chosen) < 2:
            return None
        pts = keypoints[chosen, :2]
        lo, hi = pts.min(0), pts.max(0)
        center, size = box_to_center_size(np.array([*lo, *(hi - lo)]), aspect, self.padding)
        return center, size


@dataclass(frozen=True)
class ColorJitter:
    """Random brightness, contrast, saturation (factors in [1 − a, 1 + a]) and hue (shift in
    [−hue, hue] of a full turn), each applied in random order, on (H, W, 3) uint8 RGB."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0

    @property
    def enabled(self) -> bool:
        return any(v > 0 for v in (self.brightness, self.contrast, self.saturation, self.hue))

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.enabled:
            return image
        import cv2

        img = image.astype(np.float32)
        for op in rng.permutation(4):
            if op == 0 and self.brightness > 0:
                img = img * rng.uniform(1 - self.brightness, 1 + self.brightness)
            elif op == 1 and self.contrast > 0:
                mean = (img @ np.float32([0.299, 0.587, 0.114])).mean()
                img = (img - mean) * rng.uniform(1 - self.contrast, 1 + self.contrast) + mean
            elif op == 2 and self.saturation > 0:
                grey = (img @ np.float32([0.299, 0.587, 0.114]))[..., None]
                img = (img - grey) * rng.uniform(1 - self.saturation, 1 + self.saturation) + grey
            elif op == 3 and self.hue > 0:
                hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV_FULL)
                shift = int(round(rng.uniform(-self.hue, self.hue) * 256))
                hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 256).astype(np.uint8)
                img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
            img = np.clip(img, 0, 255)
        return img.astype(np.uint8)
