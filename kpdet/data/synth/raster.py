"""Drawing primitives that paint the image and an integer label map in one go.

Points are float image coordinates (pixel centres at integers, structures.py); they are
passed to OpenCV with 4 fractional bits. The image gets anti-aliased edges and simple
shading; the label map gets the same shape without anti-aliasing.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

SHIFT = 4
_ONE = 1 << SHIFT


def fixed(pts: np.ndarray) -> np.ndarray:
    """(N, 2) float → int32 fixed point for OpenCV's ``shift`` argument."""
    return np.round(np.asarray(pts, np.float64).reshape(-1, 2) * _ONE).astype(np.int32)


@lru_cache(maxsize=8)
def _half_circles(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit half circles (n+1, 2) behind and ahead of a segment pointing along +x."""
    back = np.linspace(np.pi / 2, 3 * np.pi / 2, n + 1)
    ahead = np.linspace(-np.pi / 2, np.pi / 2, n + 1)
    return np.stack([np.cos(back), np.sin(back)], 1), np.stack([np.cos(ahead), np.sin(ahead)], 1)


def capsule_polygon(p0: np.ndarray, p1: np.ndarray, r0: float, r1: float, n: int = 7) -> np.ndarray:
    """(2n+2, 2) convex outline of a tapered capsule: a circle of radius r0 at p0, r1 at p1, joined."""
    d = p1 - p0
    length = float(np.hypot(d[0], d[1]))
    c, s = (d[0] / length, d[1] / length) if length > 1e-6 else (1.0, 0.0)
    rot = np.array([[c, s], [-s, c]])  # row vectors: v @ rot turns +x into d
    back, ahead = _half_circles(n)
    return np.concatenate([p0 + r0 * back @ rot, p1 + r1 * ahead @ rot])


def fill(image: np.ndarray, labels: np.ndarray | None, poly: np.ndarray, colour, label: int) -> None:
    """Fill a convex polygon in the image (anti-aliased) and, when given, in the label map."""
    pts = fixed(poly)
    cv2.fillConvexPoly(image, pts, tuple(float(c) for c in colour), cv2.LINE_AA, SHIFT)
    if labels is not None:
        cv2.fillConvexPoly(labels, pts, int(label), cv2.LINE_8, SHIFT)


def shaded_capsule(image: np.ndarray, labels: np.ndarray, p0: np.ndarray, p1: np.ndarray,
                   r0: float, r1: float, colour: np.ndarray, label: int, light: np.ndarray) -> None:
    """A cylinder-like limb: dark rim, mid tone, highlight shifted towards the light."""
    fill(image, labels, capsule_polygon(p0, p1, r0, r1), colour * 0.62, label)
    for scale, shift, gain in ((0.72, 0.2, 0.92), (0.32, 0.45, 1.12)):
        off = light * shift * 0.5 * (r0 + r1)
        fill(image, None, capsule_polygon(p0 + off, p1 + off, r0 * scale, r1 * scale),
             np.minimum(colour * gain, 255.0), label)


def shaded_polygon(image: np.ndarray, labels: np.ndarray, poly: np.ndarray, colour: np.ndarray,
                   label: int, light: np.ndarray) -> None:
    """A convex body part with a darker rim and a lit inner region."""
    fill(image, labels, poly, colour * 0.66, label)
    centre = poly.mean(0)
    size = float(np.sqrt(max(cv2.contourArea(poly.astype(np.float32)), 1.0)))
    inner = centre + (poly - centre) * 0.78 + light * 0.08 * size
    fill(image, None, inner, colour * 0.95, label)


def disc(image: np.ndarray, centre: np.ndarray, radius: float, colour) -> None:
    c = fixed(centre)[0]
    cv2.circle(image, (int(c[0]), int(c[1])), max(1, int(round(radius * _ONE))),
               tuple(float(v) for v in colour), -1, cv2.LINE_AA, SHIFT)
