"""Colours and 2-D patterns for backgrounds, clothing, object surfaces and occluders.

Every function takes a ``numpy.random.Generator`` and draws from it in a fixed order, so a
scene is a pure function of its generator's seed.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import cv2
import numpy as np

PATTERNS = ("noise", "stripes", "checker", "gradient", "blobs")


def random_colour(rng: np.random.Generator, *, sat: tuple[float, float] = (0.15, 0.95),
                  val: tuple[float, float] = (0.2, 0.95)) -> np.ndarray:
    """(3,) float32 RGB in 0..255, drawn in HSV so that hues are spread evenly."""
    h, s, v = rng.random(), rng.uniform(*sat), rng.uniform(*val)
    return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32) * 255.0


def distant_colour(rng: np.random.Generator, avoid: np.ndarray, min_dist: float = 90.0) -> np.ndarray:
    """A colour at least ``min_dist`` (RGB Euclidean) from ``avoid``; the farthest of a few tries otherwise."""
    best, best_d = None, -1.0
    for _ in range(8):
        c = random_colour(rng)
        d = float(np.linalg.norm(c - avoid))
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def pattern(rng: np.random.Generator, h: int, w: int, kind: str | None = None) -> np.ndarray:
    """(h, w) float32 pattern in [0, 1]."""
    kind = kind or PATTERNS[int(rng.integers(len(PATTERNS)))]
    if kind == "noise":
        out = np.zeros((h, w), np.float32)
        amp, total = 1.0, 0.0
        for cells in (int(rng.integers(2, 6)), int(rng.integers(8, 20))):
            low = rng.random((cells, cells)).astype(np.float32)
            out += amp * cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
            total += amp
            amp *= 0.45
        return np.clip(out / total, 0.0, 1.0)
    xs, ys = _grid(h, w)
    theta = rng.uniform(0, np.pi)
    t = xs * np.cos(theta) + ys * np.sin(theta)
    if kind == "stripes":
        period = rng.uniform(4, 40)
        p = 0.5 + 0.5 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
        return (p > 0.5).astype(np.float32) if rng.random() < 0.5 else p.astype(np.float32)
    if kind == "checker":
        cell = rng.uniform(6, 40)
        u = xs * np.cos(theta) - ys * np.sin(theta)
        return ((np.floor(t / cell) + np.floor(u / cell)) % 2).astype(np.float32)
    if kind == "gradient":
        t = t - t.min()
        return (t / max(float(t.max()), 1e-6)).astype(np.float32)
    out = np.zeros((h, w), np.float32)  # blobs
    for _ in range(int(rng.integers(3, 12))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(3, max(4, w // 3))), int(rng.integers(3, max(4, h // 3))))
        cv2.ellipse(out, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.random()), -1)
    k = 2 * int(rng.integers(1, 4)) + 1
    return cv2.GaussianBlur(out, (k, k), 0)


def texture(rng: np.random.Generator, h: int, w: int, colours: list[np.ndarray],
            kind: str | None = None) -> np.ndarray:
    """(h, w, 3) float32 image mixing ``colours`` through one pattern per extra colour."""
    out = np.empty((h, w, 3), np.float32)
    out[:] = colours[0]
    for c in colours[1:]:
        p = pattern(rng, h, w, kind)[..., None]
        out = out * (1.0 - p) + c * p
    return out


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) uint8 textured background: two or three colours, one pattern each, plus grain."""
    colours = [random_colour(rng) for _ in range(int(rng.integers(2, 4)))]
    img = texture(rng, h, w, colours)
    if rng.random() < 0.5:
        shade = pattern(rng, h, w, "gradient")[..., None]
        img = img * (0.7 + 0.5 * shade)
    img = img + rng.normal(0.0, rng.uniform(1.0, 6.0), (h, w, 1)).astype(np.float32)
    return np.ascontiguousarray(np.clip(img + 0.5, 0, 255), dtype=np.uint8)


def finish(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 image with a little sensor noise (learnable, never pixel-perfect)."""
    img = img.astype(np.float32) + rng.normal(0.0, 2.0, img.shape[:2] + (1,)).astype(np.float32)
    return np.ascontiguousarray(np.clip(img + 0.5, 0, 255), dtype=np.uint8)
