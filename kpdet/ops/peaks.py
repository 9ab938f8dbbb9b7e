"""Peak finding on batched maps."""

from __future__ import annotations

import torch


def argmax_2d(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """heatmaps (B, K, H, W) → integer peak cells (B, K, 2) as float x, y, and maxvals (B, K)."""
    b, k, h, w = heatmaps.shape
    maxvals, flat = heatmaps.reshape(b, k, h * w).max(dim=-1)
    coords = torch.stack([flat % w, torch.div(flat, w, rounding_mode="floor")], dim=-1)
    return coords.to(heatmaps.dtype), maxvals


def neighbours(heatmaps: torch.Tensor, cells: torch.Tensor) -> dict[str, torch.Tensor]:
    """Values at the peak and its 4-neighbourhood (borders clamped).

    heatmaps (B, K, H, W), cells (B, K, 2) integer-valued x, y → dict of (B, K) tensors
    ``c, l, r, u, d`` (centre, left, right, up, down) and the masks ``inside_x``/``inside_y``
    (both horizontal / vertical neighbours exist).
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, k, h * w)
    x = cells[..., 0].long()
    y = cells[..., 1].long()

    def at(dx: int, dy: int) -> torch.Tensor:
        xi = (x + dx).clamp(0, w - 1)
        yi = (y + dy).clamp(0, h - 1)
        return flat.gather(-1, (yi * w + xi)[..., None])[..., 0]

    return {
        "c": at(0, 0), "l": at(-1, 0), "r": at(1, 0), "u": at(0, -1), "d": at(0, 1),
        "inside_x": (x > 0) & (x < w - 1), "inside_y": (y > 0) & (y < h - 1),
    }


def window3x3(heatmaps: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 3×3 neighbourhood of each integer peak (borders clamped).

    heatmaps (B, K, H, W), cells (B, K, 2) x, y → z (B, K, 3, 3) with ``z[..., 1 + dy, 1 + dx]``
    (CCM's z_{ij}, i the row), and ``inside`` (B, K): the whole window lies on the map.
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, k, h * w)
    d = torch.arange(-1, 2, device=heatmaps.device)
    x = cells[..., 0].long()[..., None, None] + d[None, :]  # (B, K, 1, 3)
    y = cells[..., 1].long()[..., None, None] + d[:, None]  # (B, K, 3, 1)
    index = y.clamp(0, h - 1) * w + x.clamp(0, w - 1)  # (B, K, 3, 3)
    z = flat.gather(-1, index.reshape(b, k, 9)).reshape(b, k, 3, 3)
    inside = (cells[..., 0] > 0) & (cells[..., 0] < w - 1) & (cells[..., 1] > 0) & (cells[..., 1] < h - 1)
    return z, inside
