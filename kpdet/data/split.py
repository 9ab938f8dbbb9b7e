"""Split a COCO keypoints dataset into subsets by image order.

Image order is the order of the ``images`` list in the file, i.e. the order the importer wrote
(DeepLabCut: the rows of CollectedData_*.csv, img0000, img0001, …; DFI: the columns of
joints.mat, 1.jpg … 800.jpg). Ranges are Python slices over that list (``0:90`` = the first 90
images, ``90:`` = the rest). Each subset keeps every category and the file's extra keys
(info, licenses) and the annotations of its images; ``file_name`` s are rewritten relative to
the output folder so that ``load_coco(out)`` finds the images with its default arguments.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from kpdet.data.coco import CocoDataset, save_coco
from kpdet.errors import DataError

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_ranges(text: str) -> dict[str, slice]:
    """``"train=0:90,test=90:116"`` → ``{"train": slice(0, 90), "test": slice(90, 116)}``.

    Raises ValueError on malformed text, a bad subset name or a repeated name.
    """
    out: dict[str, slice] = {}
    for part in text.split(","):
        name, sep, rng = part.strip().partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"expected NAME=START:STOP, got {part.strip()!r}")
        if not _NAME.match(name) or name in (".", ".."):
            raise ValueError(f"subset name {name!r} must be a file name of letters, digits, '_', '-', '.'")
        if name in out:
            raise ValueError(f"subset {name!r} given twice")
        bounds = rng.split(":")
        if len(bounds) != 2:
            raise ValueError(f"expected START:STOP for subset {name!r}, got {rng!r}")
        try:
            start, stop = (int(b) if b.strip() else None for b in bounds)
        except ValueError:
            raise ValueError(f"expected integer START:STOP for subset {name!r}, got {rng!r}") from None
        if (start is not None and start < 0) or (stop is not None and stop < 0):
            raise ValueError(f"subset {name!r}: negative indices are not supported ({rng!r})")
        out[name] = slice(start, stop)
    return out


def _resolve(ds: CocoDataset, ranges: dict[str, slice]) -> dict[str, range]:
    n = len(ds.images)
    resolved: dict[str, range] = {}
    for name, s in ranges.items():
        start = 0 if s.start is None else s.start
        stop = n if s.stop is None else s.stop
        if stop > n:
            raise DataError(ds.source, f"subset {name!r} ends at image {stop} but the file has {n} images")
        if start >= stop:
            raise DataError(ds.source, f"subset {name!r} ({start}:{stop}) selects no image")
        resolved[name] = range(start, stop)
    names = list(resolved)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ra, rb = resolved[a], resolved[b]
            if max(ra.start, rb.start) < min(ra.stop, rb.stop):
                raise DataError(ds.source, f"subsets {a!r} ({ra.start}:{ra.stop}) and {b!r} "
                                           f"({rb.start}:{rb.stop}) overlap")
    return resolved


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path.absolute(), folder.absolute())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return path.absolute().as_posix()


def split_coco(ds: CocoDataset, ranges: dict[str, slice], out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """→ ``{name: COCO dict}`` with file names relative to ``out_dir`` (nothing is written)."""
    out_dir = Path(out_dir)
    subsets: dict[str, dict[str, Any]] = {}
    for name, rng in _resolve(ds, ranges).items():
        images = []
        for img in ds.images[rng.start:rng.stop]:
            rec = dict(img)
            rec["file_name"] = _relative(ds.image_path(img["id"]), out_dir)
            images.append(rec)
        anns = [a for img in images for a in ds.anns_by_image[img["id"]]]
        out = {k: v for k, v in ds.extra.items() if k != "image_root"}
        out.update(images=images, annotations=anns, categories=ds.categories)
        subsets[name] = out
    return subsets


def write_split(ds: CocoDataset, ranges: dict[str, slice], out_dir: str | os.PathLike, *,
                indent: int | None = None) -> dict[str, Path]:
    """Write ``out_dir/<name>.json`` for every subset (atomically); → their paths."""
    out_dir = Path(out_dir)
    subsets = split_coco(ds, ranges, out_dir)  # validate every range before writing any file
    paths = {}
    for name, obj in subsets.items():
        paths[name] = out_dir / f"{name}.json"
        save_coco(obj, paths[name], indent=indent)
    return paths
