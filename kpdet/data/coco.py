"""Read, validate and write COCO keypoint files where each category has its own keypoints.

Extension of COCO: every category carries ``keypoints`` (names), ``skeleton`` (1-based
pairs), optional ``flip_pairs`` (1-based) and optional ``sigmas`` (OKS, one per keypoint).
Validation errors name the file, the record and the field (:class:`kpdet.errors.DataError`).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.errors import DataError
from kpdet.fileio import write_json
from kpdet.schema import KeypointSchema
from kpdet.structures import Instances


@dataclass
class CocoDataset:
    """A validated COCO keypoints dataset. Records are plain dicts in the COCO layout."""

    images: list[dict[str, Any]]
    annotations: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    source: str = "<memory>"
    extra: dict[str, Any] = field(default_factory=dict)  # info, licenses, …

    def __post_init__(self) -> None:
        self.image_by_id = {img["id"]: img for img in self.images}
        self.category_by_id = {cat["id"]: cat for cat in self.categories}
        self.schemas = {cat["id"]: KeypointSchema.from_category(cat) for cat in self.categories}
        self.arrays: dict[int, np.ndarray] = {}
        self.anns_by_image: dict[int, list[dict[str, Any]]] = {img["id"]: [] for img in self.images}
        for ann in self.annotations:
            self.anns_by_image[ann["image_id"]].append(ann)

    @property
    def root(self) -> Path:
        """Folder that image ``file_name`` s are relative to (the JSON's own folder by default)."""
        return Path(self.extra.get("image_root") or Path(self.source).parent)

    def image_path(self, image_id: int) -> Path:
        return self.root / self.image_by_id[image_id]["file_name"]

    def load_image(self, image_id: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the in-memory frame if one was attached, else the decoded file.

        In-memory frames (``self.arrays``) let prediction on video or on arrays go through
        the same datasets as files do.
        """
        arr = self.arrays.get(image_id)
        if arr is not None:
            return arr
        from kpdet.data.images import read_image

        return read_image(self.image_path(image_id))

    @property
    def max_keypoints(self) -> int:
        return max((s.num_keypoints for s in self.schemas.values()), default=0)

    def instances(self, image_id: int) -> Instances:
        """The image's annotations as padded arrays (keypoints (N, Kmax, 3))."""
        anns = self.anns_by_image[image_id]
        kmax = self.max_keypoints
        inst = Instances.empty(kmax)
        if not anns:
            return inst
        kps = np.zeros((len(anns), kmax, 3), np.float64)
        for i, a in enumerate(anns):
            k = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
            kps[i, : len(k)] = k
        occ = [a.get("occlusion_level") for a in anns]
        return Instances(
            keypoints=kps,
            boxes=np.array([a["bbox"] for a in anns], np.float64).reshape(-1, 4),
            category_ids=np.array([a["category_id"] for a in anns], np.int64),
            areas=np.array([a["area"] for a in anns], np.float64),
            iscrowd=np.array([bool(a["iscrowd"]) for a in anns]),
            ids=np.array([a["id"] for a in anns], np.int64),
            occlusion=None if any(o is None for o in occ) else np.array(occ, np.int64),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.extra.items() if k != "image_root"}
        out.update(images=self.images, annotations=self.annotations, categories=self.categories)
        return out


def load_coco(path: str | os.PathLike, *, image_root: str | os.PathLike | None = None) -> CocoDataset:
    """Read and validate a COCO keypoints JSON file."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise DataError(src, "file not found")
    try:
        with open(path, "rb") as f:
            obj = json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(src, f"not valid JSON (truncated or corrupt?): {e.msg} at line {e.lineno}, column {e.colno}") from None
    except UnicodeDecodeError as e:
        raise DataError(src, f"not UTF-8 text: {e}") from None
    ds = parse_coco(obj, src)
    if image_root is not None:
        ds.extra["image_root"] = str(image_root)
    return ds


def save_coco(dataset: CocoDataset | dict[str, Any], path: str | os.PathLike, *, indent: int | None = None) -> None:
    """Write atomically (a crash never leaves a half-written file)."""
    obj = dataset.to_dict() if isinstance(dataset, CocoDataset) else dataset
    write_json(obj, path, indent=indent)


def _finite_numbers(src: str, record: str, name: str, value: Any, length: int | None = None) -> list[float]:
    if not isinstance(value, (list, tuple)):
        raise DataError(src, f"expected a list of numbers, got {type(value).__name__}", record=record, field=name)
    if length is not None and len(value) != length:
        raise DataError(src, f"expected {length} numbers, got {len(value)}", record=record, field=name)
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DataError(src, f"element {i} is {v!r}, expected a number", record=record, field=name)
        if not math.isfinite(v):
            raise DataError(src, f"element {i} is {v}, expected a finite number", record=record, field=name)
        out.append(float(v))
    return out


def _require(src: str, record: str, d: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(d, dict):
        raise DataError(src, f"expected an object, got {type(d).__name__}", record=record)
    for k in keys:
        if k not in d:
            raise DataError(src, "missing", record=record, field=k)


def _unique_ids(src: str, kind: str, records: list[dict[str, Any]]) -> None:
    seen: set[Any] = set()
    for i, r in enumerate(records):
        _require(src, f"{kind} #{i}", r, ("id",))
        rid = r["id"]
        if isinstance(rid, bool) or not isinstance(rid, int):
            raise DataError(src, f"expected an integer id, got {rid!r}", record=f"{kind} #{i}", field="id")
        if rid in seen:
            raise DataError(src, "duplicate id", record=f"{kind} id {rid}", field="id")
        seen.add(rid)


def parse_coco(obj: Any, source: str = "<memory>") -> CocoDataset:
    """Validate a loaded COCO dict; fill ``area``, ``iscrowd``, ``num_keypoints`` where missing.

    ``obj`` is left as it was: a record that gets a field filled in (every category: its
    normalised ``skeleton``) is a shallow copy in the dataset, the others are shared with ``obj``.
    """
    src = source
    if not isinstance(obj, dict):
        raise DataError(src, f"expected a JSON object with images/annotations/categories, got {type(obj).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(obj.get(key), list):
            raise DataError(src, "missing or not a list", field=key)
    images, anns, cats = obj["images"], obj["annotations"], obj["categories"]
    _unique_ids(src, "image", images)
    _unique_ids(src, "annotation", anns)
    _unique_ids(src, "category", cats)

    num_kp: dict[int, int] = {}
    categories = []
    for c in cats:
        c = dict(c)
        categories.append(c)
        rec = f"category id {c['id']}"
        names = c.get("keypoints")
        if names is None or names == []:
            # Many public files leave the names out: take K from the category's annotations.
            lengths = {len(a.get("keypoints") or []) for a in anns
                       if isinstance(a, dict) and a.get("category_id") == c["id"] and a.get("keypoints")}
            if len(lengths) == 1 and (k3 := lengths.pop()) % 3 == 0 and k3 > 0:
                c["keypoints"] = names = [f"kp{i + 1}" for i in range(k3 // 3)]
                warnings.warn(f"{src}: {rec} names no keypoints; calling its {k3 // 3} keypoints kp1…", stacklevel=2)
            else:
                names = []
        if not isinstance(names, list):
            raise DataError(src, "expected a list of keypoint names", record=rec, field="keypoints")
        k = len(names)
        num_kp[c["id"]] = k
        c["skeleton"] = _normalise_skeleton(src, rec, c.get("skeleton") or [], k)
        for pair in c.get("flip_pairs") or []:
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(i, int) and 1 <= i <= k for i in pair)):
                raise DataError(src, f"expected pairs of 1-based keypoint indices in 1..{k}, got {pair!r}",
                                record=rec, field="flip_pairs")
        if c.get("sigmas") is not None:
            sig = _finite_numbers(src, rec, "sigmas", c["sigmas"], k)
            if any(s <= 0 for s in sig):
                raise DataError(src, "sigmas must be positive", record=rec, field="sigmas")

    for img in images:
        rec = f"image id {img['id']}"
        _require(src, rec, img, ("file_name",))
        for dim in ("width", "height"):
            if dim in img and (not isinstance(img[dim], int) or img[dim] <= 0):
                raise DataError(src, f"expected a positive integer, got {img[dim]!r}", record=rec, field=dim)

    image_ids = {img["id"] for img in images}
    missing_area = 0
    annotations = []
    for a in anns:
        rec = f"annotation id {a['id']}"
        _require(src, rec, a, ("image_id", "category_id"))
        if a["image_id"] not in image_ids:
            raise DataError(src, f"unknown image_id {a['image_id']!r}", record=rec, field="image_id")
        if a["category_id"] not in num_kp:
            raise DataError(src, f"unknown category_id {a['category_id']!r} (categories: {sorted(num_kp)})",
                            record=rec, field="category_id")
        filled: dict[str, Any] = {}  # fields added to this record, on a copy of it
        if "iscrowd" not in a:
            filled["iscrowd"] = 0
        iscrowd = a.get("iscrowd", 0)
        if iscrowd not in (0, 1, False, True):
            raise DataError(src, f"expected 0 or 1, got {iscrowd!r}", record=rec, field="iscrowd")
        k = num_kp[a["category_id"]]
        if "keypoints" in a:
            kp = _finite_numbers(src, rec, "keypoints", a["keypoints"])
        elif iscrowd:
            filled["keypoints"] = [0] * (3 * k)
            kp = [0.0] * (3 * k)
        else:
            raise DataError(src, "missing", record=rec, field="keypoints")
        if len(kp) != 3 * k:
            raise DataError(src, f"expected {3 * k} numbers (3 × {k} keypoints of category "
                            f"{a['category_id']}), got {len(kp)}", record=rec, field="keypoints")
        vis = kp[2::3]
        if any(v not in (0.0, 1.0, 2.0) for v in vis):
            raise DataError(src, f"visibility flags must be 0, 1 or 2, got {sorted(set(vis))}", record=rec, field="keypoints")
        if "num_keypoints" not in a:
            filled["num_keypoints"] = int(sum(v > 0 for v in vis))
        if "bbox" in a:
            box = _finite_numbers(src, rec, "bbox", a["bbox"], 4)
            if box[2] < 0 or box[3] < 0:
                raise DataError(src, f"negative width/height in {box}", record=rec, field="bbox")
        else:
            box = filled["bbox"] = _bbox_from_keypoints(kp)
        if "area" not in a:
            filled["area"] = float(box[2] * box[3])
            missing_area += 1
        else:
            (area,) = _finite_numbers(src, rec, "area", [a["area"]])
            if area < 0:
                raise DataError(src, f"negative area {area}", record=rec, field="area")
        annotations.append({**a, **filled} if filled else a)
    if missing_area:
        warnings.warn(f"{src}: {missing_area} annotation(s) have no 'area'; using the box area w·h", stacklevel=2)
    extra = {k: v for k, v in obj.items() if k not in ("images", "annotations", "categories")}
    return CocoDataset(list(images), annotations, categories, src, extra)


def _bbox_from_keypoints(kp: list[float]) -> list[float]:
    pts = np.asarray(kp, np.float64).reshape(-1, 3)
    pts = pts[pts[:, 2] > 0, :2]
    if len(pts) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    lo, hi = pts.min(0), pts.max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def _normalise_skeleton(src: str, rec: str, skeleton: Any, k: int) -> list[list[int]]:
    """1-based skeleton; a 0-based one (index 0 present) is shifted, out-of-range edges dropped.

    The skeleton only draws lines, so a sloppy one (common in public files) is repaired
    with a warning instead of refusing the whole dataset.
    """
    if not isinstance(skeleton, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(i, int) for i in p) for p in skeleton):
        raise DataError(src, "expected a list of [i, j] integer pairs", record=rec, field="skeleton")
    if any(min(p) == 0 for p in skeleton):
        warnings.warn(f"{src}: {rec}: skeleton has index 0, reading it as 0-based", stacklevel=3)
        skeleton = [[a + 1, b + 1] for a, b in skeleton]
    kept = [p for p in skeleton if 1 <= p[0] <= k and 1 <= p[1] <= k]
    if len(kept) < len(skeleton):
        warnings.warn(f"{src}: {rec}: dropped {len(skeleton) - len(kept)} skeleton edge(s) outside 1..{k}",
                      stacklevel=3)
    return kept
