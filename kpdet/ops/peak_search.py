"""Batched peak search: the integer argmax, the maxval and the 3×3 window of every map, optionally
of the flip test's average (CCM Eq. 25) and of the Gaussian-filtered maps (DARK's modulation, CCM
Sec. 5.3), without materialising either.

On CPU the instances go through in chunks of ~2 MB of maps (:mod:`kpdet.ops.chunks`): the loop
runs B·K·H·W / 2^19 times, not once per instance or keypoint; on other devices there is one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kpdet.ops.blur import banded_product, blur_matrix, opencv_sigma
from kpdet.ops.chunks import chunk_items
from kpdet.ops.flip import flip_average
from kpdet.ops.peaks import PeakWindow, gather_window


@dataclass(frozen=True)
class Peaks:
    """cells (B, K, 2) integer-valued x, y; maxvals (B, K); the window around each cell."""

    cells: torch.Tensor
    maxvals: torch.Tensor
    window: PeakWindow


@dataclass(frozen=True)
class FlipPair:
    """The flip test's second pass: the maps of the mirrored crops as the model returns them, averaged
    with the plain maps after :func:`kpdet.ops.flip.flip_maps` (channels swapped by ``flip_index``)
    and :func:`kpdet.ops.flip.shift_x` by ``shift`` cells."""

    mirrored: torch.Tensor
    flip_index: torch.Tensor | None
    shift: float = 0.0

    def average(self, plain: torch.Tensor, rows: slice) -> torch.Tensor:
        """plain (n, K, H, W): the maps of crops ``rows`` → their flip average (n, K, H, W)."""
        return flip_average(plain, self.mirrored[rows], self.flip_index, self.shift, chunk=len(plain))


def find_peaks(heatmaps: torch.Tensor, blur_kernel: int | None = None, sigma: float | None = None,
               flip: FlipPair | None = None) -> Peaks:
    """heatmaps (B, K, H, W) → :class:`Peaks` of each map, or of its flip average with ``flip``, or
    of the map filtered by a Gaussian of ``blur_kernel`` taps (OpenCV's sigma unless given, borders
    replicated, rescaled to the unfiltered maximum as :func:`kpdet.ops.blur.gaussian_blur` with
    ``keep_max``). Ties go to the first cell in row-major order."""
    b, k, h, w = heatmaps.shape
    step = chunk_items(b, k * h * w, heatmaps.device)
    filters = None
    if blur_kernel is not None:
        s = opencv_sigma(blur_kernel) if sigma is None else sigma
        filters = (blur_matrix(w, blur_kernel, s, heatmaps.device, heatmaps.dtype),
                   blur_matrix(h, blur_kernel, s, heatmaps.device, heatmaps.dtype), blur_kernel // 2)
    parts = []
    for lo in range(0, b, step):
        rows = slice(lo, lo + step)
        maps = heatmaps[rows] if flip is None else flip.average(heatmaps[rows], rows)  # (n, K, H, W)
        maps = maps.reshape(-1, h, w)
        parts.append(_peaks(maps) if filters is None else _filtered_peaks(maps, *filters))
    if not parts:
        long = torch.zeros(0, dtype=torch.long, device=heatmaps.device)
        parts = [(long, long, heatmaps.new_zeros(0), heatmaps.new_zeros(0, 3, 3))]
    x, y, maxvals, z = (torch.cat(t) for t in zip(*parts))
    cells = torch.stack([x, y], dim=-1).to(heatmaps.dtype).reshape(b, k, 2)
    window = PeakWindow(z.reshape(b, k, 3, 3), ((x > 0) & (x < w - 1)).reshape(b, k),
                        ((y > 0) & (y < h - 1)).reshape(b, k))
    return Peaks(cells, maxvals.reshape(b, k), window)


def _peaks(maps: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """maps (N, H, W) → x, y (N,) long, maxvals (N,), windows (N, 3, 3)."""
    n, h, w = maps.shape
    maxvals, index = maps.reshape(n, h * w).max(dim=-1)
    x, y = index % w, torch.div(index, w, rounding_mode="floor")
    base = torch.arange(n, device=maps.device) * (h * w)
    return x, y, maxvals, gather_window(maps.reshape(-1), base, x, y, h, w, w, 1)


def _filtered_peaks(maps: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor, radius: int
                    ) -> tuple[torch.Tensor, ...]:
    """As :func:`_peaks` on the filtered maps Gy·M·Gxᵀ, computed as two banded products over all N maps
    at once and stored as (W, N, H): both reductions of the argmax then run with the contiguous axis
    inside, and the first maximal row, then its first maximal column, is the row-major first maximum."""
    n, h, w = maps.shape
    raw_max = maps.amax(dim=(1, 2))  # (N,) the maximum the filtered map is rescaled to
    flat = maps.reshape(n * h, w)
    along_x = banded_product(gx, flat.T, radius, maps.new_empty(w, n * h))  # (W, N·H): [x, (i, y)]
    cols = along_x.view(w * n, h)
    out = maps.new_empty(w * n, h)
    banded_product(gy, cols.T, radius, out.T)  # (W·N, H) written transposed: out[(x, i), y] filtered
    z = out.view(w, n, h)  # z[x, i, y] = filtered map i at (y, x)
    top, y = z.amax(dim=0).max(dim=-1)  # (N,) the maximum and its first row
    i = torch.arange(n, device=maps.device)
    row = out.view(-1).take(torch.arange(w, device=maps.device)[:, None] * (n * h) + i * h + y)  # (W, N)
    x = row.argmax(dim=0)  # first column of that row
    z3 = gather_window(out.view(-1), i * h, x, y, h, w, 1, n * h)  # (N, 3, 3)
    positive = top > 0  # a map filtered to ≤ 0 everywhere becomes all zeros, as in gaussian_blur
    scale = torch.where(positive, raw_max / torch.where(positive, top, 1.0), 0.0)
    return (torch.where(positive, x, 0), torch.where(positive, y, 0), torch.where(positive, raw_max, 0.0),
            z3 * scale[:, None, None])
