"""MPII json list (the layout mmpose/HRNet ship: ``[{image, joints, joints_vis, center, scale}]``).

Keypoints follow :data:`kpdet.schema.MPII16`. ``joints_vis`` says whether a joint was
labelled (this layout drops MPII's separate visibility bit), so labelled joints are v = 2 and
the rest v = 0. MPII coordinates are MATLAB's 1-based pixel indices: kpdet's pixel-centre
coordinate is ``x − 1``. The box is MPII's person square: ``scale`` is the person's height in
units of 200 px, so the box is a 200·scale square centred on ``center``, clipped to the image.
Records of the same image become instances of one image; images are looked up beside the json
(or in its ``images/`` folder).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.data.importers.builder import CocoBuilder, ImageStore, image_size
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError
from kpdet.schema import MPII16

MPII_SCALE_PX = 200.0  # MPII `scale` unit: the person's height is scale × 200 px


def import_mpii(src: Path, store: ImageStore, options: ImportOptions) -> CocoBuilder:
    if not src.is_file():
        raise DataError(str(src), "file not found")
    try:
        records = json.loads(src.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(str(src), f"not valid JSON: {e}") from None
    if not isinstance(records, list):
        raise DataError(str(src), f"expected a list of records, got {type(records).__name__}")

    k = MPII16.num_keypoints
    builder = CocoBuilder(info={"description": f"imported from MPII json {src}"})
    cid = builder.add_category(MPII16.name, MPII16.keypoints, MPII16.skeleton, MPII16.flip_pairs, MPII16.sigmas)
    image_ids: dict[str, int] = {}
    for i, r in enumerate(records):
        rec = f"record #{i}"
        if not isinstance(r, dict):
            raise DataError(str(src), "expected an object", record=rec)
        for key in ("image", "joints", "joints_vis", "center", "scale"):
            if key not in r:
                raise DataError(str(src), "missing", record=rec, field=key)
        rec = f"record #{i} (image {r['image']})"
        joints = _numbers(src, rec, "joints", r["joints"], (k, 2))
        vis = _numbers(src, rec, "joints_vis", r["joints_vis"], (k,))
        center = _numbers(src, rec, "center", r["center"], (2,)) - 1.0
        (scale,) = _numbers(src, rec, "scale", [r["scale"]], (1,))
        if scale <= 0:
            raise DataError(str(src), f"expected a positive scale, got {scale}", record=rec, field="scale")

        name = str(r["image"])
        if name not in image_ids:
            path = next((p for p in (src.parent / name, src.parent / "images" / name) if p.is_file()), None)
            if path is None:
                raise DataError(str(src), f"image not found: {name} (looked in {src.parent} and its images/)",
                                record=rec, field="image")
            w, h = image_size(path, str(src), rec)
            image_ids[name] = builder.add_image(store.reference(path, name), w, h)
        img = builder.images[image_ids[name] - 1]
        kps = np.zeros((k, 3))
        kps[:, :2] = joints - 1.0
        kps[:, 2] = np.where(vis > 0, 2, 0)
        half = MPII_SCALE_PX * scale / 2
        lo = np.maximum(center - half, -0.5)
        hi = np.minimum(center + half, [img["width"] - 0.5, img["height"] - 0.5])
        box = [float(lo[0]), float(lo[1]), float(max(hi[0] - lo[0], 0)), float(max(hi[1] - lo[1], 0))]
        builder.add_instance(image_ids[name], cid, kps, bbox=box, center=center.tolist(), scale=scale)
    return builder


def _numbers(src: Path, rec: str, name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != shape or not all(math.isfinite(v) for v in arr.reshape(-1)):
        raise DataError(str(src), f"expected finite numbers of shape {shape}, got {value!r}", record=rec, field=name)
    return arr
