"""Class layout of KAPAO's outputs for any set of categories, each with its own keypoints.

Per anchor: objectness, box (4), class scores for C pose classes (one per category) followed by
one keypoint class per (category, keypoint), then 2·K_max keypoint offsets. For one category
with K keypoints this is No = 1 + 4 + (1 + K) + 2K = 3K + 6 (KAPAO Sec. 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kpdet.schema import KeypointSchema


@dataclass(frozen=True)
class ClassLayout:
    category_ids: tuple[int, ...]  # pose class c ↔ category_ids[c]
    num_keypoints: tuple[int, ...]  # K per pose class
    kp_offsets: tuple[int, ...]  # first keypoint class of each category (absolute class index)

    @staticmethod
    def from_schemas(schemas: dict[int, KeypointSchema]) -> "ClassLayout":
        cats = tuple(sorted(c for c, s in schemas.items() if s.num_keypoints > 0))
        if not cats:
            raise ValueError("KAPAO needs at least one category with keypoints")
        ks = tuple(schemas[c].num_keypoints for c in cats)
        offsets = tuple(len(cats) + int(v) for v in np.cumsum((0, *ks[:-1])))
        return ClassLayout(cats, ks, offsets)

    @property
    def num_pose_classes(self) -> int:
        return len(self.category_ids)

    @property
    def num_classes(self) -> int:
        return len(self.category_ids) + sum(self.num_keypoints)

    @property
    def max_keypoints(self) -> int:
        return max(self.num_keypoints)

    @property
    def num_outputs(self) -> int:
        return 5 + self.num_classes + 2 * self.max_keypoints

    def pose_class(self, category_id: int) -> int:
        return self.category_ids.index(category_id)

    def kp_class_table(self) -> tuple[np.ndarray, np.ndarray]:
        """For every class: (pose class it belongs to, keypoint index or −1 for pose classes)."""
        owner = np.arange(self.num_classes)
        index = np.full(self.num_classes, -1)
        for c, (k, off) in enumerate(zip(self.num_keypoints, self.kp_offsets)):
            owner[off: off + k] = c
            index[off: off + k] = np.arange(k)
        return owner, index

    def flip_class_index(self, schemas: dict[int, KeypointSchema]) -> np.ndarray:
        """(num_classes,) permutation of class scores under a horizontal mirror."""
        perm = np.arange(self.num_classes)
        for cat, off in zip(self.category_ids, self.kp_offsets):
            fi = schemas[cat].flip_index
            perm[off: off + len(fi)] = off + fi
        return perm

    def flip_keypoint_index(self, schemas: dict[int, KeypointSchema]) -> np.ndarray:
        """(C, K_max) keypoint permutation of each pose class under a mirror."""
        out = np.tile(np.arange(self.max_keypoints), (self.num_pose_classes, 1))
        for c, cat in enumerate(self.category_ids):
            fi = schemas[cat].flip_index
            out[c, : len(fi)] = fi
        return out
