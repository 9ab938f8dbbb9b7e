"""Gaussian keypoint heatmaps: encode per sample (NumPy), decode batched (torch).

Coordinates follow :mod:`kpdet.structures`: a keypoint at input pixel ``x`` sits at map cell
``image_to_map(x, stride)`` and the Gaussian is centred there with sub-pixel precision (no
rounding), so ``decode(encode(kp))`` is exact up to the refinement step's own error.

Decoding is a chain of small steps on batched tensors::

    HeatmapDecoder(stride=4, refine=QuarterShift(), flip=FlipTest(shift_px=0.0))

``flip`` produces the heatmaps (plain or averaged with the flipped crop), ``blur`` smooths them
(CCM Sec. 5.3), ``refine`` turns the integer argmax into sub-pixel cells: 0.25-px shift,
parabola (CCM Eq. 13), paraboloid (CCM Eq. 14–22), DARK, or the log-parabola. Pose NMS across
instances (OKS-NMS, CCM's Soft-NMS fusion) is :mod:`kpdet.codecs.pose_nms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from kpdet.ops.affine import apply_affine
from kpdet.ops.blur import gaussian_blur
from kpdet.ops.flip import flip_average
from kpdet.ops.peak_search import FlipPair, find_peaks
from kpdet.ops.peaks import PeakWindow
from kpdet.ops.subpixel import dark_step, log_quadratic_step, parabola_step, paraboloid_step, quarter_step
from kpdet.structures import image_to_map, map_to_image


# -- encode ------------------------------------------------------------------------------
def gaussian_heatmaps(keypoints: np.ndarray, map_size: tuple[int, int], stride: float, sigma: float,
                      radius: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """keypoints (K, 3) x, y, v in input pixels → heatmaps (K, Hm, Wm) float32, weights (K,) float32.

    weight 1 for a labelled keypoint (v > 0) whose centre lies on the map, else 0 and an empty map.
    Values beyond ``radius``·sigma on either axis are zero (the 3σ window of SimpleBaseline).
    """
    hm, wm = map_size
    kp = np.asarray(keypoints, np.float64).reshape(-1, 3)
    mu = image_to_map(kp[:, :2], stride)  # (K, 2) map cells
    inside = (mu[:, 0] >= -0.5) & (mu[:, 0] < wm - 0.5) & (mu[:, 1] >= -0.5) & (mu[:, 1] < hm - 0.5)
    weights = ((kp[:, 2] > 0) & inside & np.isfinite(mu).all(1)).astype(np.float32)
    mu = np.where(weights[:, None] > 0, mu, 0.0)
    dx = np.arange(wm)[None, :] - mu[:, :1]  # (K, Wm)
    dy = np.arange(hm)[None, :] - mu[:, 1:]  # (K, Hm)
    gx = np.exp(-dx**2 / (2 * sigma**2)) * (np.abs(dx) <= radius * sigma)
    gy = np.exp(-dy**2 / (2 * sigma**2)) * (np.abs(dy) <= radius * sigma)
    heatmaps = gy[:, :, None] * gx[:, None, :] * weights[:, None, None]  # (K, Hm, Wm)
    return heatmaps.astype(np.float32), weights


# -- decode steps ------------------------------------------------------------------------
class Refine:
    """A sub-pixel refinement, read from the 3×3 window around each integer peak only.

    ``offsets(window)`` → (B, K, 2) offsets dx, dy in cells (what :class:`HeatmapDecoder` calls, on the
    windows its peak search gathered); ``refine(heatmaps, cells)`` → refined cells (B, K, 2) from
    full heatmaps (B, K, H, W) and integer cells.
    """

    def offsets(self, window: PeakWindow) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, heatmaps: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        return cells + self.offsets(PeakWindow.at(heatmaps, cells))


class NoRefine(Refine):
    """Integer argmax only."""

    def offsets(self, window: PeakWindow) -> torch.Tensor:
        return window.z.new_zeros(*window.z.shape[:-2], 2)


@dataclass(frozen=True)
class QuarterShift(Refine):
    """Argmax + ``step`` cells towards the higher neighbour (SimpleBaseline's 0.25-px shift)."""

    step: float = 0.25

    def offsets(self, window: PeakWindow) -> torch.Tensor:
        return quarter_step(window, self.step)


class LogQuadratic(Refine):
    """Argmax + vertex of the per-axis parabola through the log heatmap (exact on Gaussians)."""

    def offsets(self, window: PeakWindow) -> torch.Tensor:
        return log_quadratic_step(window)


class Parabola(Refine):
    """Argmax + vertex of the per-axis parabola through the raw values (CCM Eq. 13)."""

    def offsets(self, window: PeakWindow) -> torch.Tensor:
        return parabola_step(window)


@dataclass(frozen=True)
class Paraboloid(Refine):
    """Argmax + maximum of the paraboloid fitted to the 3×3 neighbourhood (CCM Eq. 14–22)."""

    log: bool = False

    def offsets(self, window: PeakWindow) -> torch.Tensor:
        return paraboloid_step(window, log=self.log)


class Dark(Refine):
    """Argmax + DARK's Newton step on the log heatmap (full Hessian). DARK proper = GaussianFilter + Dark."""

    def offsets(self, window: PeakWindow) -> torch.Tensor:
        return dark_step(window)


@dataclass(frozen=True)
class GaussianFilter:
    """Smooth each heatmap with a Gaussian (kernel ``kernel``, OpenCV's sigma), keeping its maximum."""

    kernel: int = 11

    def __call__(self, heatmaps: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(heatmaps, self.kernel)


@dataclass(frozen=True)
class FlipTest:
    """Average the heatmaps of the crop and of its mirror image (mirrored back, channels swapped).

    ``shift_px`` moves the mirrored-back heatmaps right by that many heatmap cells before the
    average. SimpleBaseline uses 1.0 to compensate the half-pixel bias of its coordinate
    convention; in kpdet's pixel-centre convention a mirrored input gives exactly mirrored
    maps, so the unbiased default is 0.0 (the point of UDP, Huang et al. 2020).
    """

    shift_px: float = 0.0

    @classmethod
    def subpixel_shift(cls, r: float, stride: float) -> "FlipTest":
        """CCM's sub-pixel shift of the flipped heatmap (Eq. 25), by its ratio r ≥ 1.

        Eq. 25 blends the mirrored map with its 1-cell shifted copy, weights (1 − 1/r, 1/r): a
        1/r-cell shift, here :func:`kpdet.ops.flip.shift_x`'s linear interpolation. The paper works
        in SimpleBaseline's convention, where input pixel x sits at cell x/s: there a mirrored
        crop's maps are misaligned by 1 − 1/s cells, so the classic 1-cell shift (r = 1) leaves a
        residual of 1/s cells and 1/r leaves 1/r − (1 − 1/s). kpdet's pixel-centre convention has no
        misalignment (shift 0 is exact), so we apply the same residual: shift = 1/r − 1 + 1/s cells.
        The paper's settings keep their meaning (r = 1 reproduces SimpleBaseline's bias, r = 1.25
        the paper's best 0.8 px), and r = s/(s − 1) (4/3 at stride 4) is the exact alignment.
        """
        if r < 1:
            raise ValueError(f"sub-pixel shift ratio r must be ≥ 1 (CCM Eq. 25), got {r}")
        return cls(1.0 / r - 1.0 + 1.0 / stride)

    def __call__(self, model_fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                 flip_index: torch.Tensor) -> torch.Tensor:
        plain = model_fn(images)  # (B, C, Hm, Wm)
        return flip_average(plain, model_fn(images.flip(-1)), flip_index, self.shift_px)


@dataclass
class HeatmapDecoder:
    """Heatmaps → keypoints in image coordinates through each crop's affine."""

    stride: float
    refine: Refine = QuarterShift()
    flip: FlipTest | None = None
    blur: GaussianFilter | None = None

    def heatmaps(self, model_fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                 flip_index: torch.Tensor) -> torch.Tensor:
        """Run the model (and the flip test when configured): (B, C, Hm, Wm)."""
        if self.flip is None:
            return model_fn(images)
        return self.flip(model_fn, images, flip_index)

    def predict(self, model_fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                flip_index: torch.Tensor, crop_to_image: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`heatmaps` then :meth:`decode`, with the flip test's average left to the decoding."""
        plain = model_fn(images)  # (B, C, Hm, Wm)
        if self.flip is None:
            return self.decode(plain, crop_to_image)
        return self.decode(plain, crop_to_image, mirrored=model_fn(images.flip(-1)), flip_index=flip_index)

    def decode(self, heatmaps: torch.Tensor, crop_to_image: torch.Tensor | None = None,
               mirrored: torch.Tensor | None = None, flip_index: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B, K, Hm, Wm), crop_to_image (B, 2, 3) or None
        → points (B, K, 2) x, y in image (or crop-input) pixels, maxvals (B, K).

        ``mirrored`` (B, K, Hm, Wm): the model's maps of the mirrored crops. Given, the flip test
        (``self.flip``'s shift, channels swapped by ``flip_index``) runs inside the peak search, a
        chunk at a time, and gives what decoding :meth:`heatmaps`' average gives without storing it.
        The Gaussian filter, when configured, also runs there; linear, it commutes with the average.
        """
        flip = None
        if mirrored is not None:
            if self.flip is None:
                raise ValueError("mirrored heatmaps given to a HeatmapDecoder without a flip test")
            flip = FlipPair(mirrored.float(), flip_index, self.flip.shift_px)
        peaks = find_peaks(heatmaps.float(), None if self.blur is None else self.blur.kernel, flip=flip)
        cells = peaks.cells + self.refine.offsets(peaks.window)  # (B, K, 2) map cells
        points = map_to_image(cells, self.stride)  # (B, K, 2) crop-input pixels
        if crop_to_image is not None:
            points = apply_affine(points, crop_to_image.to(points))
        return points, peaks.maxvals


def build_refine(name: str) -> Refine:
    steps: dict[str, Refine] = {"none": NoRefine(), "quarter": QuarterShift(), "log_quadratic": LogQuadratic(),
                                "parabola": Parabola(), "paraboloid": Paraboloid(), "dark": Dark()}
    if name not in steps:
        raise ValueError(f"unknown heatmap refinement '{name}'; choose one of {', '.join(steps)}")
    return steps[name]
