"""Options shared by the importers; each importer reads the ones that apply to its format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImportOptions:
    frames: slice | None = None  # sleap: only frames whose index in the video falls in this range
    predicted: bool = False  # sleap: also import predicted instances (default: user-labelled only)
    labels: Path | None = None  # yolo: folder of the .txt labels (default: images/ → labels/)
    split: str | None = None  # yolo: which split of the dataset yaml (default: all of them)
    image_ext: str = ".png"  # sleap: file type of extracted frames


def parse_frames(text: str) -> slice:
    """``"A:B"`` (either end optional) → slice; raises ValueError otherwise."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"expected START:STOP, got {text!r}")
    start, stop = (int(p) if p.strip() else None for p in parts)
    return slice(start, stop)
