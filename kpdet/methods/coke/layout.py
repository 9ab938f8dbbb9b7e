"""Rows of the keypoint bank for several categories, and the per-crop targets.

One block of K_c prototypes per category in category-id order (as topdown's channel blocks):
a crop of category c is contrasted with, and decoded from, its own block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kpdet.schema import KeypointSchema
from kpdet.structures import Sample


@dataclass(frozen=True)
class PrototypeLayout:
    categories: tuple[int, ...]  # category ids with keypoints, sorted; position = category index
    sizes: tuple[int, ...]  # K per category index
    offsets: tuple[int, ...]  # first bank row per category index

    @staticmethod
    def from_schemas(schemas: dict[int, KeypointSchema]) -> "PrototypeLayout":
        cats = tuple(c for c in sorted(schemas) if schemas[c].num_keypoints > 0)
        if not cats:
            raise ValueError("no category with keypoints: nothing for a keypoint model to learn")
        sizes = tuple(schemas[c].num_keypoints for c in cats)
        offsets = tuple(int(v) for v in np.concatenate([[0], np.cumsum(sizes)[:-1]]))
        return PrototypeLayout(cats, sizes, offsets)

    @property
    def total(self) -> int:
        return int(sum(self.sizes))

    @property
    def max_keypoints(self) -> int:
        return max(self.sizes)

    def index(self, category_id: int) -> int:
        return self.categories.index(category_id)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """→ table (C, K_max) bank row of keypoint k of category index c (padding: the block's
        first row), valid (C, K_max) bool."""
        table = np.zeros((len(self.categories), self.max_keypoints), np.int64)
        valid = np.zeros_like(table, dtype=bool)
        for c, (k, off) in enumerate(zip(self.sizes, self.offsets)):
            table[c, :k] = np.arange(off, off + k)
            table[c, k:] = off
            valid[c, :k] = True
        return table, valid

    def owner(self) -> np.ndarray:
        """(P,) category index of every bank row."""
        return np.repeat(np.arange(len(self.categories)), self.sizes)


@dataclass(frozen=True)
class CokeTargets:
    """Picklable encoder run in data workers: one instance crop → its targets.

    keypoints  # (K_max, 3) x, y in crop pixels, v (0 past the category's K)
    category   # () category index in the layout
    """

    layout: PrototypeLayout

    def __call__(self, sample: Sample) -> dict[str, Any]:
        inst = sample.instances
        cat = int(inst.category_ids[0])
        c = self.layout.index(cat)
        k = self.layout.sizes[c]
        keypoints = np.zeros((self.layout.max_keypoints, 3), np.float32)
        keypoints[:k] = inst.keypoints[0, :k]
        return {"keypoints": keypoints, "category": np.int64(c)}
