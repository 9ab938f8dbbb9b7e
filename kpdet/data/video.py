"""Video in and out with OpenCV: frames decoded in chunks (never the whole video in memory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from kpdet.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
DEFAULT_FPS = 30.0  # when the container does not say


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoReader:
    """RGB frames of a video file; ``fps``, ``size`` (W, H) and ``frame_count`` (the container's
    estimate, or 0 when unknown) are read when it opens."""

    def __init__(self, path: str | os.PathLike):
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(str(self.path), "video file not found")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise DataError(str(self.path), "video could not be opened (corrupt, or a codec OpenCV lacks)")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.frame_count = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))

    def chunks(self, size: int) -> Iterator[tuple[int, list[np.ndarray]]]:
        """(index of the first frame, up to ``size`` frames (H, W, 3) uint8 RGB) until the end."""
        import cv2

        index, chunk = 0, []
        while True:
            ok, frame = self._cap.read()
            if not ok:
                break
            chunk.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if len(chunk) == size:
                yield index, chunk
                index, chunk = index + size, []
        if chunk:
            yield index, chunk
        elif index == 0:
            raise DataError(str(self.path), "no frame could be decoded (empty or corrupt video)")

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """An mp4v video written to a temporary file beside ``path`` and renamed on ``close``, so a
    crash never leaves a half-written file under the final name."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]):
        import cv2

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise DataError(str(self.path), "video could not be opened for writing (mp4v codec)")
        self.size = size
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame of the writer's size."""
        import cv2

        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self, *, keep: bool = True) -> None:
        self._writer.release()
        if keep:
            os.replace(self._tmp, self.path)
        elif self._tmp.exists():
            self._tmp.unlink()
