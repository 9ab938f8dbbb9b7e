"""Loading and validating COCO keypoint result files.

A result is ``{"image_id": int, "category_id": int, "keypoints": [x, y, s] * K, "score": float}``
with K the keypoint count of its category, optionally ``bbox`` (xywh). Errors name the file,
the result's index and the field. Results for image ids absent from the ground truth are
dropped with one warning (how many, and a few of the ids).

The area a result is filtered by in COCO's area ranges is its ``bbox`` area when it has a
non-empty ``bbox``, otherwise the area of the extent of its keypoints; this is what
pycocotools' ``loadRes`` computes for a file whose results all have (or all lack) a box.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.errors import DataError

_FIELDS = ("image_id", "category_id", "keypoints", "score")


@dataclass
class Detections:
    """The results of one category, in file order."""

    img: np.ndarray  # (D,) index into the sorted ground-truth image ids
    keypoints: np.ndarray  # (D, K, 3) x, y, keypoint score
    scores: np.ndarray  # (D,)
    areas: np.ndarray  # (D,)

    def __len__(self) -> int:
        return len(self.scores)


def read_results(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "file not found")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(str(path), f"not valid JSON (truncated or corrupt?): {e.msg} at line {e.lineno}") from None
    except UnicodeDecodeError as e:
        raise DataError(str(path), f"not UTF-8 text: {e}") from None


def _number(src: str, i: int, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DataError(src, f"expected a number, got {v!r}", record=f"result #{i}", field=name)
    if not math.isfinite(v):
        raise DataError(src, f"expected a finite number, got {v}", record=f"result #{i}", field=name)
    return float(v)


def _integer(src: str, i: int, name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise DataError(src, f"expected an integer id, got {v!r}", record=f"result #{i}", field=name)
    return v


def _bad_keypoints(src: str, rows: list[list[Any]], index: list[int]) -> None:
    """Raise for the first result whose keypoints are not all finite numbers."""
    for row, i in zip(rows, index):
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise DataError(src, f"element {j} is {v!r}, expected a number",
                                record=f"result #{i}", field="keypoints")
            if not math.isfinite(v):
                raise DataError(src, f"element {j} is {v}, expected a finite number",
                                record=f"result #{i}", field="keypoints")


def parse_results(results: Any, num_keypoints: dict[int, int], image_index: dict[int, int], *,
                  source: str = "<memory>", warn_unknown: bool = True) -> dict[int, Detections]:
    """Validate results and split them by category (every ground-truth category has an entry)."""
    src = source
    if not isinstance(results, list):
        raise DataError(src, f"expected a JSON list of results, got {type(results).__name__}")
    rows: dict[int, list[list[Any]]] = {c: [] for c in num_keypoints}
    where: dict[int, list[int]] = {c: [] for c in num_keypoints}
    img: dict[int, list[int]] = {c: [] for c in num_keypoints}
    score: dict[int, list[float]] = {c: [] for c in num_keypoints}
    box_area: dict[int, list[float]] = {c: [] for c in num_keypoints}
    unknown: dict[Any, int] = {}
    for i, r in enumerate(results):
        if not isinstance(r, dict):
            raise DataError(src, f"expected an object, got {type(r).__name__}", record=f"result #{i}")
        for k in _FIELDS:
            if k not in r:
                raise DataError(src, "missing", record=f"result #{i}", field=k)
        cid, iid, s = r["category_id"], r["image_id"], r["score"]
        if type(cid) is not int:  # fast path first: a plain int (bool is not one)
            cid = _integer(src, i, "category_id", cid)
        if type(iid) is not int:
            iid = _integer(src, i, "image_id", iid)
        if cid not in num_keypoints:
            raise DataError(src, f"unknown category_id {cid} (ground-truth categories: {sorted(num_keypoints)})",
                            record=f"result #{i}", field="category_id")
        kp = r["keypoints"]
        k = num_keypoints[cid]
        if not isinstance(kp, list) or len(kp) != 3 * k:
            got = f"{len(kp)} numbers" if isinstance(kp, list) else type(kp).__name__
            raise DataError(src, f"expected {3 * k} numbers (3 × {k} keypoints of category {cid}), got {got}",
                            record=f"result #{i}", field="keypoints")
        if type(s) is not float or not math.isfinite(s):
            s = _number(src, i, "score", s)
        area = math.nan
        bb = r.get("bbox")
        if bb is not None and bb != []:
            if not isinstance(bb, list) or len(bb) != 4:
                raise DataError(src, f"expected [x, y, w, h], got {bb!r}", record=f"result #{i}", field="bbox")
            w, h = (_number(src, i, "bbox", v) for v in bb[2:])
            _number(src, i, "bbox", bb[0]), _number(src, i, "bbox", bb[1])
            area = w * h
        n = image_index.get(iid)
        if n is None:
            unknown[iid] = unknown.get(iid, 0) + 1
            continue
        rows[cid].append(kp)
        where[cid].append(i)
        img[cid].append(n)
        score[cid].append(s)
        box_area[cid].append(area)
    if unknown and warn_unknown:
        few = ", ".join(str(x) for x in list(unknown)[:5])
        warnings.warn(f"{src}: dropped {sum(unknown.values())} result(s) for {len(unknown)} image id(s) "
                      f"not in the ground truth (e.g. {few})", stacklevel=3)
    out = {}
    for cid, k in num_keypoints.items():
        d = len(rows[cid])
        arr = np.asarray(rows[cid]) if d else np.zeros((0, 3 * k))
        if arr.dtype.kind not in "fiu":
            _bad_keypoints(src, rows[cid], where[cid])
        arr = arr.astype(np.float64).reshape(d, k, 3)
        finite = np.isfinite(arr).all((1, 2))
        if not finite.all():
            j = int(np.argmin(finite))
            _bad_keypoints(src, [rows[cid][j]], [where[cid][j]])
        area = np.array(box_area[cid], np.float64)
        no_box = np.isnan(area)
        if no_box.any():
            # pycocotools loadRes: the area of the keypoints' extent
            xy = arr[no_box, :, :2]
            ext = xy.max(1) - xy.min(1)
            area[no_box] = ext[:, 0] * ext[:, 1]
        out[cid] = Detections(np.array(img[cid], np.int64), arr, np.array(score[cid], np.float64), area)
    return out
