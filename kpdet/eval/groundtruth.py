"""Ground truth as per-category arrays, in the order pycocotools evaluates it.

Images are indexed by their position among the sorted image ids; inside an image the
annotations keep their file order (pycocotools' order, which decides ties in matching).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kpdet.data.coco import CocoDataset
from kpdet.schema import KeypointSchema


@dataclass
class CategoryTruth:
    category_id: int
    schema: KeypointSchema
    sigmas: np.ndarray  # (K,)
    img: np.ndarray  # (G,) index into the sorted image ids
    keypoints: np.ndarray  # (G, K, 3)
    boxes: np.ndarray  # (G, 4) xywh
    areas: np.ndarray  # (G,)
    crowd: np.ndarray  # (G,) bool
    ignore: np.ndarray  # (G,) bool: iscrowd or num_keypoints == 0 (COCO's ignore rule)
    ids: np.ndarray  # (G,) annotation ids
    occlusion: np.ndarray  # (G,) occlusion level 0..3, -1 where the annotation has none
    annotations: list[dict[str, Any]]  # the records, for optional fields (head_box, …)

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def num_keypoints(self) -> int:
        return self.schema.num_keypoints


def image_order(ds: CocoDataset) -> tuple[np.ndarray, dict[int, int]]:
    """Sorted image ids (G,) and id → position."""
    ids = np.array(sorted(ds.image_by_id), np.int64)
    return ids, {int(i): n for n, i in enumerate(ids)}


def truth_by_category(ds: CocoDataset, index: dict[int, int], *, warn: bool = True) -> dict[int, CategoryTruth]:
    """One :class:`CategoryTruth` per category, by sorted category id."""
    per_cat: dict[int, list[dict[str, Any]]] = {cid: [] for cid in sorted(ds.category_by_id)}
    for a in ds.annotations:
        per_cat[a["category_id"]].append(a)
    out = {}
    for cid, anns in per_cat.items():
        schema = ds.schemas[cid]
        k = schema.num_keypoints
        g = len(anns)
        kp = np.asarray([a["keypoints"] for a in anns], np.float64).reshape(g, k, 3)
        crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], bool)
        nkp = np.array([a.get("num_keypoints", -1) for a in anns], np.int64)
        # pycocotools reads the stored num_keypoints; count the labels where it is absent
        nkp = np.where(nkp < 0, (kp[:, :, 2] > 0).sum(1), nkp)
        occ = np.array([a.get("occlusion_level", -1) if a.get("occlusion_level") is not None else -1
                        for a in anns], np.int64)
        out[cid] = CategoryTruth(
            category_id=cid, schema=schema, sigmas=schema.sigma_array(warn=warn),
            img=np.array([index[a["image_id"]] for a in anns], np.int64),
            keypoints=kp,
            boxes=np.asarray([a["bbox"] for a in anns], np.float64).reshape(g, 4),
            areas=np.array([a["area"] for a in anns], np.float64),
            crowd=crowd, ignore=crowd | (nkp == 0),
            ids=np.array([a["id"] for a in anns], np.int64),
            occlusion=occ, annotations=anns,
        )
    return out
