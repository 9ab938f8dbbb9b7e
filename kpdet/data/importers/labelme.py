"""Labelme JSON → COCO keypoints: rectangles are instances, points are their keypoints.

A rectangle's label is its category; a point's label is the keypoint's name. A point joins the
rectangle with the same ``group_id`` when both have one, otherwise the smallest rectangle that
contains it; a point in no rectangle is dropped with a warning naming the file and the label.
Other shapes (polygons, lines…) are ignored. A category's keypoints are the point labels seen in
its rectangles, in order of first appearance over the files (sorted by name); a rectangle
without some of them has those as v = 0, every clicked point is v = 2 (Labelme has no hidden
flag). Labelme's coordinates put the image's top-left corner at 0, so kpdet's pixel-centre
coordinate is ``x − 0.5`` (kpdet.structures); the rectangle is the box.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.data.importers.builder import CocoBuilder, ImageStore, image_size
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError


@dataclass
class _Rect:
    label: str
    lo: np.ndarray  # (2,) top-left, Labelme coordinates
    hi: np.ndarray  # (2,)
    group: Any
    points: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def area(self) -> float:
        return float(np.prod(self.hi - self.lo))

    def contains(self, p: np.ndarray) -> bool:
        return bool((p >= self.lo).all() and (p <= self.hi).all())


def import_labelme(src: Path, store: ImageStore, options: ImportOptions) -> CocoBuilder:
    """``src``: one Labelme .json or a folder of them (searched recursively)."""
    if src.is_dir():
        files = sorted(src.rglob("*.json"))
        if not files:
            raise DataError(str(src), "no Labelme .json files in this folder")
        root = src
    elif src.is_file():
        files, root = [src], src.parent
    else:
        raise DataError(str(src), "file or folder not found")

    parsed = [(f, *_read(f)) for f in files]
    kp_names: dict[str, list[str]] = {}
    for _, _, rects in parsed:
        for r in rects:
            names = kp_names.setdefault(r.label, [])
            names += [n for n in r.points if n not in names]

    builder = CocoBuilder(info={"description": f"imported from Labelme {src}"})
    cat_ids = {label: builder.add_category(label, names) for label, names in kp_names.items()}
    for path, image, rects in parsed:
        w, h = image_size(image, str(path), "imagePath")
        try:
            sub = image.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            sub = image.name
        image_id = builder.add_image(store.reference(image, sub), w, h)
        for r in rects:
            names = kp_names[r.label]
            kps = np.zeros((len(names), 3))
            for n, p in r.points.items():
                kps[names.index(n)] = (p[0] - 0.5, p[1] - 0.5, 2)
            box = [float(r.lo[0] - 0.5), float(r.lo[1] - 0.5), *map(float, r.hi - r.lo)]
            builder.add_instance(image_id, cat_ids[r.label], kps, bbox=box)
    return builder


def _read(path: Path) -> tuple[Path, list[_Rect]]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(str(path), f"not valid JSON: {e}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("shapes"), list):
        raise DataError(str(path), "expected a Labelme object with a 'shapes' list", field="shapes")
    if not isinstance(obj.get("imagePath"), str):
        raise DataError(str(path), "missing or not a string", field="imagePath")
    image = path.parent / obj["imagePath"].replace("\\", "/")
    if not image.is_file():
        # Labelme files are often moved apart from their images: try ../images/<name> too
        alt = path.parent.parent / "images" / Path(obj["imagePath"].replace("\\", "/")).name
        if not alt.is_file():
            raise DataError(str(path), f"image not found: {image} (nor {alt})", field="imagePath")
        image = alt

    rects: list[_Rect] = []
    points: list[tuple[int, str, np.ndarray, Any]] = []
    for i, s in enumerate(obj["shapes"]):
        rec = f"shape #{i}"
        if not isinstance(s, dict):
            raise DataError(str(path), "expected an object", record=rec)
        kind = s.get("shape_type") or "polygon"
        if kind not in ("rectangle", "point"):
            continue
        label = s.get("label")
        pts = s.get("points")
        n = 2 if kind == "rectangle" else 1
        try:
            arr = np.asarray(pts, np.float64).reshape(n, 2)
        except (TypeError, ValueError):
            raise DataError(str(path), f"expected {n} [x, y] point(s) for a {kind}, got {pts!r}",
                            record=f"{rec} ('{label}')", field="points") from None
        if not np.isfinite(arr).all() or not isinstance(label, str):
            raise DataError(str(path), "expected a string label and finite coordinates", record=rec)
        if kind == "rectangle":
            rects.append(_Rect(label, arr.min(0), arr.max(0), s.get("group_id")))
        else:
            points.append((i, label, arr[0], s.get("group_id")))

    for i, label, p, group in points:
        owner = None
        if group is not None:
            owner = next((r for r in rects if r.group == group), None)
        if owner is None:
            inside = [r for r in rects if r.contains(p)]
            if not inside:
                warnings.warn(f"{path}: point '{label}' (shape #{i}) at ({p[0]:.1f}, {p[1]:.1f}) lies in no "
                              "rectangle; dropped", stacklevel=2)
                continue
            owner = min(inside, key=lambda r: r.area)
        if label in owner.points:
            raise DataError(str(path), f"two '{label}' points in one '{owner.label}' rectangle at "
                            f"{owner.lo.tolist()}–{owner.hi.tolist()}", record=f"shape #{i}")
        owner.points[label] = p
    return image, rects
