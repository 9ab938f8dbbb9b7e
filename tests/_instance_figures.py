"""A tiny on-disk COCO keypoints set for tests: stick persons (COCO-17) and squares (K = 4)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from kpdet.data.coco import CocoDataset, load_coco, save_coco
from kpdet.data.images import write_image
from kpdet.schema import COCO17, KeypointSchema

SQUARE = KeypointSchema("square", ("top_left", "top_right", "bottom_right", "bottom_left"),
                        ((0, 1), (1, 2), (2, 3), (3, 0)), ((0, 1), (3, 2)))

# a standing person in a unit box (x right, y down), COCO-17 order
_PERSON = np.array([[0.5, 0.08], [0.46, 0.05], [0.54, 0.05], [0.42, 0.07], [0.58, 0.07], [0.35, 0.22],
                    [0.65, 0.22], [0.25, 0.38], [0.75, 0.38], [0.18, 0.52], [0.82, 0.52], [0.40, 0.55],
                    [0.60, 0.55], [0.38, 0.76], [0.62, 0.76], [0.37, 0.97], [0.63, 0.97]])
_COLOURS = np.array([(255, 60, 60), (60, 255, 60), (60, 60, 255), (255, 255, 60), (255, 60, 255),
                     (60, 255, 255), (200, 120, 40), (40, 200, 120), (120, 40, 200), (230, 230, 230),
                     (140, 140, 40), (40, 140, 140), (140, 40, 140), (250, 150, 150), (150, 250, 150),
                     (150, 150, 250), (90, 90, 90)])


def _person(rng: np.random.Generator, size: int) -> np.ndarray:
    h = rng.uniform(0.45, 0.8) * size
    w = h * 0.5
    x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - h)
    pts = _PERSON * [w, h] + [x0, y0] + rng.normal(0, 0.01 * h, (17, 2))
    if rng.random() < 0.5:  # face the other way: a mirrored person with swapped identities
        pts = pts[COCO17.flip_index] * [-1, 1] + [2 * x0 + w, 0]
    return pts


def _square(rng: np.random.Generator, size: int) -> np.ndarray:
    s = rng.uniform(0.25, 0.45) * size
    c = rng.uniform(s, size - s, 2)
    a = rng.uniform(-0.5, 0.5)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * s / 2
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return corners @ rot.T + c


def make_figures(root: Path, n_images: int = 6, size: int = 128, seed: int = 0,
                 categories: tuple[int, ...] = (1, 2)) -> CocoDataset:
    """Write images + annotations.json under ``root``; category 1 = COCO17 person, 2 = SQUARE."""
    rng = np.random.default_rng(seed)
    schemas = {1: COCO17, 2: SQUARE}
    images, anns = [], []
    for i in range(n_images):
        img = np.full((size, size, 3), 30, np.uint8)
        img[:] = rng.integers(20, 60, 3)
        for cat in categories:
            pts = _person(rng, size) if cat == 1 else _square(rng, size)
            k = len(pts)
            vis = np.full(k, 2.0)
            if cat == 1:
                vis[rng.random(k) < 0.1] = 0
                for a, b in COCO17.skeleton:
                    cv2.line(img, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), (200, 200, 200), 2)
            else:
                cv2.fillPoly(img, [pts.round().astype(np.int32)], (110, 110, 160))
            for j, p in enumerate(pts):
                cv2.circle(img, (int(round(p[0])), int(round(p[1]))), 3, tuple(int(c) for c in _COLOURS[j]), -1)
            lo, hi = pts.min(0) - 4, pts.max(0) + 4
            kp = np.concatenate([pts, vis[:, None]], 1)
            kp[vis == 0, :2] = 0
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cat,
                         "bbox": [float(v) for v in (*lo, *(hi - lo))], "area": float(np.prod(hi - lo)),
                         "iscrowd": 0, "num_keypoints": int((vis > 0).sum()), "keypoints": [round(float(v), 3) for v in kp.reshape(-1)]})
        write_image(root / "images" / f"{i + 1:04d}.png", img)
        images.append({"id": i + 1, "file_name": f"images/{i + 1:04d}.png", "width": size, "height": size})
    cats = [schemas[c].to_category(c) for c in categories]
    save_coco({"images": images, "annotations": anns, "categories": cats}, root / "annotations.json")
    return load_coco(root / "annotations.json")
