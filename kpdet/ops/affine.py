"""2×3 affine matrices in the pixel-centre convention of :mod:`kpdet.structures`.

Every function accepts NumPy arrays or torch tensors (duck-typed, no torch import), so the
data pipeline (NumPy) and the batched decoders (torch) share one implementation.
"""

from __future__ import annotations

import numpy as np


def apply_affine(points, matrix):
    """points (..., N, 2) x, y; matrix (..., 2, 3) → (..., N, 2)."""
    linear = matrix[..., :2]  # (..., 2, 2)
    shift = matrix[..., 2]  # (..., 2)
    return points @ linear.swapaxes(-1, -2) + shift[..., None, :]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """(…, 2, 3) → (…, 2, 3) inverse (NumPy)."""
    matrix = np.asarray(matrix, np.float64)
    linear_inv = np.linalg.inv(matrix[..., :2])  # (..., 2, 2)
    shift = -(linear_inv @ matrix[..., 2:])  # (..., 2, 1)
    return np.concatenate([linear_inv, shift], axis=-1)


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The affine ``outer ∘ inner`` (apply ``inner`` first), (2, 3) each (NumPy)."""
    a = np.vstack([np.asarray(outer, np.float64), [0.0, 0.0, 1.0]])
    b = np.vstack([np.asarray(inner, np.float64), [0.0, 0.0, 1.0]])
    return (a @ b)[:2]
