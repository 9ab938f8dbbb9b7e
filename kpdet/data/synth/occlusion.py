"""Pasted occluders with a measured occlusion level (OccludedPASCAL3D+-style levels L0–L3).

For every instance the covered fraction is measured on the instance's own visible mask as it
was before any occluder was pasted, and occluders are added until the fraction lies in the
level's range. An occluder that would push any instance of the image past its upper bound is
shrunk and tried again; when an instance cannot be brought into range the caller re-draws the
whole scene.
"""

from __future__ import annotations

import cv2
import numpy as np

from kpdet.data.synth.scene import OCCLUDER, Scene
from kpdet.data.synth.textures import distant_colour, texture

LEVEL_RANGES = {0: (0.0, 0.0), 1: (0.2, 0.4), 2: (0.4, 0.6), 3: (0.6, 0.8)}


def parse_level(text: str) -> int:
    t = str(text).strip().upper().lstrip("L")
    if t not in ("0", "1", "2", "3"):
        raise ValueError(f"occlusion level must be one of L0, L1, L2, L3, got {text!r}")
    return int(t)


def _shape_mask(rng: np.random.Generator, h: int, w: int, centre: tuple[int, int], area: float) -> np.ndarray:
    """(h, w) uint8 mask of a random ellipse, convex polygon, rotated rectangle or bar of ~``area`` px."""
    mask = np.zeros((h, w), np.uint8)
    r = max(2.0, float(np.sqrt(area / np.pi)))
    kind = int(rng.integers(4))
    angle = rng.uniform(0, np.pi)
    cx, cy = centre
    if kind == 0:
        k = rng.uniform(1.0, 2.2)
        cv2.ellipse(mask, (cx, cy), (max(1, int(r * k)), max(1, int(r / k))), np.degrees(angle), 0, 360, 1, -1)
    elif kind == 1:
        n = int(rng.integers(5, 9))
        a = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.9, 1.5, n)
        pts = np.stack([cx + rad * np.cos(a), cy + rad * np.sin(a)], 1)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 1)
    else:
        aspect = rng.uniform(1.0, 2.5) if kind == 2 else rng.uniform(3.0, 6.0)
        half_w, half_h = 0.5 * np.sqrt(np.pi * area * aspect), 0.5 * np.sqrt(np.pi * area / aspect)
        c, s = np.cos(angle), np.sin(angle)
        corners = np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
        pts = corners @ np.array([[c, s], [-s, c]]) + (cx, cy)
        cv2.fillConvexPoly(mask, np.round(pts).astype(np.int32), 1)
    return mask


def apply_occluders(rng: np.random.Generator, scene: Scene, level: int, *, max_tries: int = 40) -> list[float] | None:
    """Paste occluders in place; the measured fraction per instance, or None when out of reach."""
    n = len(scene.instances)
    if level == 0 or n == 0:
        return [0.0] * n
    lo, hi = LEVEL_RANGES[level]
    h, w = scene.owner.shape
    owner0 = scene.owner.copy()
    base = np.bincount(owner0.ravel() + 2, minlength=n + 2)[2:].astype(np.float64)  # (n,) pre-occluder areas
    covered = np.zeros(n, np.float64)
    union = np.zeros((h, w), bool)
    for i in rng.permutation(n):
        if base[i] == 0:
            return None
        target = rng.uniform(lo + 0.03, hi - 0.03)
        overlap = 0.6  # running estimate of how much of a shape lands on the instance
        for _ in range(max_tries):
            if covered[i] / base[i] >= lo:
                break
            free = np.flatnonzero((owner0.ravel() == i) & ~union.ravel())
            if len(free) == 0:
                return None
            pix = int(free[rng.integers(len(free))])
            need = (target - covered[i] / base[i]) * base[i]
            shape = _shape_mask(rng, h, w, (pix % w, pix // w), need / overlap * rng.uniform(0.6, 1.0)) > 0
            new = shape & ~union
            gain = np.bincount(owner0[new] + 2, minlength=n + 2)[2:].astype(np.float64)
            if gain[i] == 0:
                continue
            if np.any((covered + gain) / np.maximum(base, 1.0) > np.where(base > 0, hi, np.inf)):
                overlap = min(overlap * 1.6, 1.0)
                continue
            overlap = float(np.clip(gain[i] / shape.sum(), 0.1, 1.0))
            covered += gain
            union |= shape
            _paint(rng, scene, shape, scene.instances[i].colour)
        if covered[i] / base[i] < lo:
            return None
    scene.owner[union] = OCCLUDER
    return list(covered / base)


def _paint(rng: np.random.Generator, scene: Scene, shape: np.ndarray, avoid: np.ndarray) -> None:
    ys, xs = np.nonzero(shape)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    colours = [distant_colour(rng, avoid) for _ in range(int(rng.integers(1, 3)))]
    tex = texture(rng, y1 - y0, x1 - x0, colours)
    shade = 0.8 + 0.4 * rng.random()
    roi = scene.image[y0:y1, x0:x1]
    m = shape[y0:y1, x0:x1]
    roi[m] = np.clip(tex[m] * shade, 0, 255).astype(np.uint8)
