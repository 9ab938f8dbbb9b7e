"""YOLO pose labels (Ultralytics layout) → COCO keypoints.

The dataset YAML gives ``path`` (root), the splits ``train``/``val``/``test`` (an image folder,
a .txt list of images, or a list of either), ``names`` (class id → name), ``kpt_shape: [K, D]``
(D = 2: x y, D = 3: x y v) and optionally ``flip_idx`` (the permutation that swaps left and
right keypoints) and ``kpt_names`` (a list, or a mapping class → list; default ``kp1…``).
Each image's label is the .txt of the same stem in the matching ``labels/`` folder (the last
``images`` component of its path replaced by ``labels``), or in ``options.labels``.

A line is ``class cx cy w h`` then K × (x y [v]), all normalised to the image size. YOLO's
normalised coordinates put the image's corners at 0 and 1, so a pixel-centre coordinate is
``x·W − 0.5`` (kpdet.structures). With D = 2 every point is visible unless it is (0, 0);
with D = 3, v is 0, 1 or 2 like COCO. An image without a label file has no instances.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.data.importers.builder import CocoBuilder, ImageStore, image_size
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def import_yolo(src: Path, store: ImageStore, options: ImportOptions) -> CocoBuilder:
    cfg = _read_yaml(src)
    k, dims = cfg["kpt_shape"]
    names = cfg["names"]
    root = Path(cfg.get("path") or ".")
    if not root.is_absolute():
        root = src.resolve().parent / root

    builder = CocoBuilder(info={"description": f"imported from YOLO pose {src}"})
    cat_ids = {}
    for cls, cname in names.items():
        kp_names = _kpt_names(src, cfg, cls, k)
        flips = [(i, j) for i, j in enumerate(cfg.get("flip_idx") or []) if i < j]
        cat_ids[cls] = builder.add_category(str(cname), kp_names, [], flips)

    seen: set[Path] = set()
    for image in _images(src, cfg, root, options.split):
        if image.resolve() in seen:
            continue
        seen.add(image.resolve())
        label = _label_path(image, options.labels)
        w, h = image_size(image, str(label), f"image {image}")
        try:
            sub = image.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            sub = image.name
        image_id = builder.add_image(store.reference(image, sub), w, h)
        if not label.is_file():
            continue
        for lineno, line in enumerate(label.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                _add_line(label, lineno, line, k, dims, cat_ids, w, h, image_id, builder)
    if not builder.images:
        raise DataError(str(src), f"no images found under {root} for the splits of this dataset yaml")
    return builder


def _read_yaml(src: Path) -> dict[str, Any]:
    import yaml

    if not src.is_file():
        raise DataError(str(src), "dataset yaml not found")
    try:
        cfg = yaml.safe_load(src.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DataError(str(src), f"malformed YAML: {e}") from None
    if not isinstance(cfg, dict):
        raise DataError(str(src), f"expected a mapping (path, train, names, kpt_shape…), got {type(cfg).__name__}")
    shape = cfg.get("kpt_shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) for v in shape)
            and shape[0] > 0 and shape[1] in (2, 3)):
        raise DataError(str(src), f"expected [K, 2] or [K, 3], got {shape!r}", field="kpt_shape")
    names = cfg.get("names")
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names or not all(isinstance(c, int) for c in names):
        raise DataError(str(src), f"expected a list of class names or a mapping id → name, got {names!r}",
                        field="names")
    cfg["names"] = names
    flip = cfg.get("flip_idx")
    if flip is not None and sorted(flip) != list(range(shape[0])):
        raise DataError(str(src), f"expected a permutation of 0..{shape[0] - 1}, got {flip!r}", field="flip_idx")
    if flip is not None and any(flip[flip[i]] != i for i in range(len(flip))):
        raise DataError(str(src), f"flip_idx must swap pairs (flip_idx[flip_idx[i]] == i), got {flip}",
                        field="flip_idx")
    return cfg


def _kpt_names(src: Path, cfg: dict[str, Any], cls: int, k: int) -> list[str]:
    names = cfg.get("kpt_names")
    if isinstance(names, dict):
        names = names.get(cls)
    if names is None:
        return [f"kp{i + 1}" for i in range(k)]
    if not isinstance(names, list) or len(names) != k:
        raise DataError(str(src), f"expected {k} keypoint names (kpt_shape), got {names!r}", field="kpt_names")
    return [str(n) for n in names]


def _images(src: Path, cfg: dict[str, Any], root: Path, split: str | None) -> list[Path]:
    splits = [split] if split else [s for s in ("train", "val", "test") if cfg.get(s)]
    if not splits:
        raise DataError(str(src), "no train/val/test entry", field="train")
    out: list[Path] = []
    for s in splits:
        entries = cfg.get(s)
        if entries is None:
            raise DataError(str(src), "missing", field=s)
        for entry in entries if isinstance(entries, list) else [entries]:
            p = Path(str(entry))
            p = p if p.is_absolute() else root / p
            if p.is_dir():
                out += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
            elif p.is_file() and p.suffix == ".txt":
                for line in p.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        q = Path(line.strip())
                        out.append(q if q.is_absolute() else root / q)
            else:
                raise DataError(str(src), f"{p} is neither an image folder nor a .txt list of images", field=s)
    return out


def _label_path(image: Path, labels: Path | None) -> Path:
    if labels is not None:
        return labels / f"{image.stem}.txt"
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _add_line(label: Path, lineno: int, line: str, k: int, dims: int, cat_ids: dict[int, int],
              w: int, h: int, image_id: int, builder: CocoBuilder) -> None:
    rec = f"line {lineno}"
    fields = line.split()
    expected = 5 + k * dims
    if len(fields) != expected:
        raise DataError(str(label), f"expected {expected} values (class, box, {k} keypoints × {dims}), "
                        f"got {len(fields)}", record=rec)
    try:
        values = [float(f) for f in fields]
    except ValueError:
        raise DataError(str(label), f"expected numbers, got {line.strip()!r}", record=rec) from None
    if not all(math.isfinite(v) for v in values) or values[0] != int(values[0]):
        raise DataError(str(label), "expected an integer class and finite numbers", record=rec)
    cls = int(values[0])
    if cls not in cat_ids:
        raise DataError(str(label), f"class {cls} is not in the dataset yaml's names {sorted(cat_ids)}", record=rec)
    cx, cy, bw, bh = values[1:5]
    pts = np.asarray(values[5:], np.float64).reshape(k, dims)
    kps = np.zeros((k, 3))
    if dims == 3:
        if not np.isin(pts[:, 2], (0, 1, 2)).all():
            raise DataError(str(label), f"visibility must be 0, 1 or 2, got {sorted(set(pts[:, 2]))}", record=rec)
        kps[:, 2] = pts[:, 2]
    else:
        kps[:, 2] = np.where((pts[:, 0] == 0) & (pts[:, 1] == 0), 0, 2)
    kps[:, 0] = pts[:, 0] * w - 0.5
    kps[:, 1] = pts[:, 1] * h - 0.5
    box = [(cx - bw / 2) * w - 0.5, (cy - bh / 2) * h - 0.5, bw * w, bh * h]
    builder.add_instance(image_id, cat_ids[cls], kps, bbox=box)
