"""Peak finding on batched maps and the 3×3 neighbourhood of each peak."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def argmax_2d(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """heatmaps (B, K, H, W) → integer peak cells (B, K, 2) as float x, y, and maxvals (B, K)."""
    b, k, h, w = heatmaps.shape
    maxvals, flat = heatmaps.reshape(b, k, h * w).max(dim=-1)
    coords = torch.stack([flat % w, torch.div(flat, w, rounding_mode="floor")], dim=-1)
    return coords.to(heatmaps.dtype), maxvals


_OFFSETS = torch.arange(-1, 2)


@dataclass(frozen=True)
class PeakWindow:
    """The 3×3 neighbourhood of integer peaks, all a sub-pixel refinement reads.

    ``z`` (B, K, 3, 3) with ``z[..., 1 + dy, 1 + dx]`` (CCM's z_ij, i the row; borders clamped);
    ``inside_x`` / ``inside_y`` (B, K): both horizontal / vertical neighbours lie on the map.
    """

    z: torch.Tensor
    inside_x: torch.Tensor
    inside_y: torch.Tensor

    @property
    def inside(self) -> torch.Tensor:
        """(B, K): the whole window lies on the map."""
        return self.inside_x & self.inside_y

    @classmethod
    def at(cls, heatmaps: torch.Tensor, cells: torch.Tensor) -> "PeakWindow":
        """Gathered from heatmaps (B, K, H, W) around cells (B, K, 2) integer-valued x, y."""
        b, k, h, w = heatmaps.shape
        x, y = cells[..., 0].long(), cells[..., 1].long()
        base = torch.arange(b * k, device=heatmaps.device) * (h * w)
        z = gather_window(heatmaps.reshape(-1), base, x.reshape(-1), y.reshape(-1), h, w, w, 1)
        return cls(z.reshape(b, k, 3, 3), (x > 0) & (x < w - 1), (y > 0) & (y < h - 1))


def gather_window(flat: torch.Tensor, base: torch.Tensor, x: torch.Tensor, y: torch.Tensor, h: int, w: int,
                  stride_y: int, stride_x: int) -> torch.Tensor:
    """flat: the 1-D storage of N maps of H × W, map i's cell (y, x) at ``base[i] + y·stride_y + x·stride_x``;
    x, y (N,) long → (N, 3, 3) values around (x, y), rows y − 1 … y + 1, borders clamped."""
    d = _OFFSETS.to(flat.device)
    xs = (x[:, None] + d).clamp(0, w - 1)  # (N, 3)
    ys = (y[:, None] + d).clamp(0, h - 1)  # (N, 3)
    return flat.take(base[:, None, None] + ys[:, :, None] * stride_y + xs[:, None, :] * stride_x)


def neighbours(heatmaps: torch.Tensor, cells: torch.Tensor) -> dict[str, torch.Tensor]:
    """Values at the peak and its 4-neighbourhood (borders clamped).

    heatmaps (B, K, H, W), cells (B, K, 2) integer-valued x, y → dict of (B, K) tensors
    ``c, l, r, u, d`` (centre, left, right, up, down) and the masks ``inside_x``/``inside_y``
    (both horizontal / vertical neighbours exist).
    """
    win = PeakWindow.at(heatmaps, cells)
    z = win.z
    return {"c": z[..., 1, 1], "l": z[..., 1, 0], "r": z[..., 1, 2], "u": z[..., 0, 1], "d": z[..., 2, 1],
            "inside_x": win.inside_x, "inside_y": win.inside_y}


def window3x3(heatmaps: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 3×3 neighbourhood of each integer peak (borders clamped).

    heatmaps (B, K, H, W), cells (B, K, 2) x, y → z (B, K, 3, 3) with ``z[..., 1 + dy, 1 + dx]``
    (CCM's z_{ij}, i the row), and ``inside`` (B, K): the whole window lies on the map.
    """
    win = PeakWindow.at(heatmaps, cells)
    return win.z, win.inside
