"""Assemble an imported dataset into kpdet's COCO keypoints layout.

Every importer reads its own format and hands images, categories and instances to a
:class:`CocoBuilder`; an :class:`ImageStore` decides where the image files live:

* without ``--images`` an existing image file is referenced where it is, its ``file_name``
  relative to the output JSON's folder (``../`` allowed);
* with ``--images DIR`` it is copied to ``DIR/<name inside the source>``;
* frames that exist only inside a video or a package (SLEAP) are written as image files to
  ``DIR`` (default: ``images/`` beside the output JSON).

In every case ``file_name`` is relative to the JSON's folder, so the dataset moves as a whole.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.errors import DataError
from kpdet.fileio import atomic_open

# Box of an instance without a labelled box: the tight box of its labelled keypoints grown by
# BOX_MARGIN of its larger side on every side, and by at least BOX_MIN_MARGIN pixels (a lone
# point or a thin line still gets a box of 2·BOX_MIN_MARGIN), then clipped to the image.
BOX_MARGIN = 0.1
BOX_MIN_MARGIN = 8.0
_EXIF_ORIENTATION = 0x0112


def image_size(path: Path, source: str, record: str) -> tuple[int, int]:
    """(width, height) from the image file's header, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(source, f"image file not found: {path}", record=record)
    try:
        with Image.open(path) as im:
            w, h = int(im.width), int(im.height)
            # EXIF orientations 5-8 turn the photo by 90°; cv2 (kpdet.data.images) decodes it turned
            return (h, w) if im.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8) else (w, h)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(source, f"cannot read the image header of {path}: {e}", record=record) from None


def box_from_keypoints(kps: np.ndarray, width: int | None = None, height: int | None = None,
                       margin: float = BOX_MARGIN, min_margin: float = BOX_MIN_MARGIN) -> list[float]:
    """COCO xywh box around the labelled keypoints (v > 0) of ``kps  # (K, 3)``."""
    pts = kps[kps[:, 2] > 0, :2]
    if len(pts) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    lo, hi = pts.min(0), pts.max(0)
    pad = max(margin * float((hi - lo).max()), min_margin)
    lo, hi = lo - pad, hi + pad
    if width is not None and height is not None:
        # the image spans [-0.5, W - 0.5] (pixel centres at integers, see kpdet.structures)
        lo = np.maximum(lo, -0.5)
        hi = np.minimum(hi, [width - 0.5, height - 0.5])
        hi = np.maximum(hi, lo)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


@dataclass
class ImageStore:
    """Places image files for the output JSON at ``out`` (see the module docstring)."""

    out: Path
    images_dir: Path | None = None

    @property
    def json_dir(self) -> Path:
        return self.out.resolve().parent

    def _rel(self, path: Path) -> str:
        return Path(os.path.relpath(path.resolve(), self.json_dir)).as_posix()

    def reference(self, path: Path, name: str) -> str:
        """file_name for the existing image ``path``; ``name`` is its path inside the source."""
        if self.images_dir is None:
            return self._rel(path)
        dst = self.images_dir / name
        if dst.resolve() != path.resolve():
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(dst, "wb") as f, open(path, "rb") as g:
                shutil.copyfileobj(g, f)
        return self._rel(dst)

    def write_bytes(self, data: bytes, name: str) -> str:
        """file_name for an already encoded image (PNG/JPEG bytes) written to ``name``."""
        dst = (self.images_dir or self.json_dir / "images") / name
        with atomic_open(dst, "wb") as f:
            f.write(data)
        return self._rel(dst)

    def write_array(self, image: np.ndarray, name: str) -> str:
        """file_name for a decoded frame ``image  # (H, W) or (H, W, 3) BGR`` written to ``name``."""
        import cv2

        ok, buf = cv2.imencode(Path(name).suffix, image)
        if not ok:
            raise DataError(name, f"could not encode a frame as {Path(name).suffix}")
        return self.write_bytes(buf.tobytes(), name)


@dataclass
class CocoBuilder:
    """Collects categories, images and instances; ``to_dict()`` is a COCO keypoints dict."""

    images: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add_category(self, name: str, keypoints: list[str], skeleton: list[tuple[int, int]] = (),
                     flip_pairs: list[tuple[int, int]] = (), sigmas: list[float] | None = None) -> int:
        """Category id; ``skeleton`` and ``flip_pairs`` are 0-based here, written 1-based."""
        cid = len(self.categories) + 1
        cat: dict[str, Any] = {
            "id": cid, "name": name, "supercategory": name, "keypoints": list(keypoints),
            "skeleton": [[int(a) + 1, int(b) + 1] for a, b in skeleton],
            "flip_pairs": [[int(a) + 1, int(b) + 1] for a, b in flip_pairs],
        }
        if sigmas is not None:
            cat["sigmas"] = [float(s) for s in sigmas]
        self.categories.append(cat)
        return cid

    def add_image(self, file_name: str, width: int, height: int, **extra: Any) -> int:
        iid = len(self.images) + 1
        self.images.append({"id": iid, "file_name": file_name, "width": int(width), "height": int(height), **extra})
        return iid

    def add_instance(self, image_id: int, category_id: int, keypoints: np.ndarray,
                     bbox: list[float] | None = None, **extra: Any) -> int:
        """``keypoints  # (K, 3)`` x, y, v; the box defaults to :func:`box_from_keypoints`."""
        kps = np.asarray(keypoints, np.float64).copy()
        kps[kps[:, 2] == 0, :2] = 0.0  # COCO writes unlabelled points as (0, 0, 0)
        if bbox is None:
            img = self.images[image_id - 1]
            bbox = box_from_keypoints(kps, img["width"], img["height"])
        aid = len(self.annotations) + 1
        self.annotations.append({
            "id": aid, "image_id": int(image_id), "category_id": int(category_id),
            "keypoints": [float(x) for x in kps.reshape(-1)],
            "num_keypoints": int((kps[:, 2] > 0).sum()),
            "bbox": [float(x) for x in bbox], "area": float(bbox[2] * bbox[3]), "iscrowd": 0, **extra,
        })
        return aid

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"info": self.info} if self.info else {}
        out.update(images=self.images, annotations=self.annotations, categories=self.categories)
        return out
