"""Keypoint schemas: names, skeleton, left/right flip pairs and OKS sigmas.

In dataset files (COCO categories) ``skeleton`` and our extension ``flip_pairs`` are
1-based like COCO's skeleton; inside kpdet every index is 0-based.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

# A category without sigmas gets this per-keypoint sigma (the mean of the COCO-17
# sigmas, 0.0669, rounded). Not 1/K as some tools use: with 1/K the OKS tolerance
# depends on how many keypoints a category happens to have, which makes AP meaningless.
DEFAULT_SIGMA = 0.07


@dataclass(frozen=True)
class KeypointSchema:
    name: str
    keypoints: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...] = ()
    flip_pairs: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        k = len(self.keypoints)
        for a, b in (*self.skeleton, *self.flip_pairs):
            if not (0 <= a < k and 0 <= b < k):
                raise ValueError(f"schema '{self.name}': index pair ({a}, {b}) outside 0..{k - 1}")
        if self.sigmas is not None and len(self.sigmas) != k:
            raise ValueError(f"schema '{self.name}': {len(self.sigmas)} sigmas for {k} keypoints")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def flip_index(self) -> np.ndarray:
        """(K,) permutation that swaps left and right keypoints."""
        idx = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            idx[a], idx[b] = b, a
        return idx

    def sigma_array(self, *, warn: bool = True) -> np.ndarray:
        """(K,) OKS sigmas; the documented default with a warning when the schema has none."""
        if self.sigmas is not None:
            return np.asarray(self.sigmas, np.float64)
        if warn:
            warnings.warn(
                f"category '{self.name}' has no OKS sigmas: using {DEFAULT_SIGMA} for each of its "
                f"{self.num_keypoints} keypoints (set 'sigmas' in the category to override)",
                stacklevel=2,
            )
        return np.full(self.num_keypoints, DEFAULT_SIGMA)

    @staticmethod
    def from_category(cat: dict[str, Any]) -> "KeypointSchema":
        """Build from a COCO category dict (1-based skeleton and flip_pairs)."""
        names = tuple(str(n) for n in cat.get("keypoints", []))
        skeleton = tuple((int(a) - 1, int(b) - 1) for a, b in cat.get("skeleton") or [])
        flips = tuple((int(a) - 1, int(b) - 1) for a, b in cat.get("flip_pairs") or [])
        if not flips and names:
            flips = infer_flip_pairs(names)
        sig = cat.get("sigmas")
        if sig is None:
            # a category with exactly a built-in schema's keypoints gets that schema's sigmas
            sig = next((s.sigmas for s in BUILTIN_SCHEMAS.values() if s.keypoints == names), None)
        return KeypointSchema(str(cat.get("name", cat.get("id"))), names, skeleton, flips,
                              None if sig is None else tuple(float(s) for s in sig))

    def to_category(self, category_id: int, supercategory: str | None = None) -> dict[str, Any]:
        """The COCO category dict of this schema (1-based skeleton and flip_pairs)."""
        cat: dict[str, Any] = {
            "id": int(category_id),
            "name": self.name,
            "supercategory": supercategory or self.name,
            "keypoints": list(self.keypoints),
            "skeleton": [[a + 1, b + 1] for a, b in self.skeleton],
            "flip_pairs": [[a + 1, b + 1] for a, b in self.flip_pairs],
        }
        if self.sigmas is not None:
            cat["sigmas"] = list(self.sigmas)
        return cat


_SIDES = (("left_", "right_"), ("l_", "r_"), ("left", "right"), ("L", "R"))


def infer_flip_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Pairs of names that differ only by a left/right prefix (e.g. left_eye / right_eye)."""
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for i, n in enumerate(names):
        for left, right in _SIDES:
            if n.startswith(left) and right + n[len(left):] in index:
                pairs.append((i, index[right + n[len(left):]]))
                break
    return tuple(pairs)


def _pairs(names: tuple[str, ...], edges: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    index = {n: i for i, n in enumerate(names)}
    return tuple((index[a], index[b]) for a, b in edges)


_COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                 "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                 "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO17 = KeypointSchema(
    "person",
    _COCO17_NAMES,
    # COCO's own person skeleton (person_keypoints_*.json), converted to 0-based.
    tuple((a - 1, b - 1) for a, b in [
        (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
        (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)]),
    infer_flip_pairs(_COCO17_NAMES),
    tuple(s / 10.0 for s in (.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                             1.07, 1.07, .87, .87, .89, .89)),
)

_CROWDPOSE_NAMES = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
                    "left_ankle", "right_ankle", "head", "neck")
CROWDPOSE14 = KeypointSchema(
    "person",
    _CROWDPOSE_NAMES,
    _pairs(_CROWDPOSE_NAMES, [
        ("head", "neck"), ("neck", "left_shoulder"), ("neck", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle")]),
    infer_flip_pairs(_CROWDPOSE_NAMES),
    # xtcocotools' crowdpose sigmas
    tuple(s / 10.0 for s in (.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79)),
)

_MPII_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
               "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
               "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")
MPII16 = KeypointSchema(
    "person",
    _MPII_NAMES,
    _pairs(_MPII_NAMES, [
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
        ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"),
        ("right_shoulder", "thorax"), ("thorax", "left_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist")]),
    infer_flip_pairs(_MPII_NAMES),
    (0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026,
     0.062, 0.072, 0.179, 0.179, 0.072, 0.062),
)

_AIC_NAMES = ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
              "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
              "left_ankle", "head_top", "neck")
AIC14 = KeypointSchema(
    "person",
    _AIC_NAMES,
    _pairs(_AIC_NAMES, [
        ("head_top", "neck"), ("neck", "right_shoulder"), ("neck", "left_shoulder"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "left_hip"), ("right_hip", "left_hip"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle")]),
    infer_flip_pairs(_AIC_NAMES),
    (0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
     0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173),
)

BUILTIN_SCHEMAS: dict[str, KeypointSchema] = {
    "coco17": COCO17, "crowdpose14": CROWDPOSE14, "mpii16": MPII16, "aic14": AIC14,
}


def builtin_schema(name: str) -> KeypointSchema:
    try:
        return BUILTIN_SCHEMAS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown keypoint schema '{name}'; built in: {', '.join(BUILTIN_SCHEMAS)}") from None
