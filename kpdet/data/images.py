"""Image reading with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kpdet.errors import DataError


def read_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB. Raises DataError for a missing or undecodable file."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), "image file not found")
    buf = np.fromfile(path, np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if img is None:
        raise DataError(str(path), "image could not be decoded (corrupt or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an RGB image atomically; the format comes from the suffix."""
    import cv2

    from kpdet.fileio import atomic_open

    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError(str(path), f"could not encode image as {path.suffix}")
    with atomic_open(path, "wb") as f:
        f.write(buf.tobytes())


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder`` (by suffix, case-insensitive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(str(folder), "folder not found")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))
