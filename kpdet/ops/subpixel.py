"""Sub-pixel offsets around an integer heatmap peak. Each returns (B, K, 2) dx, dy in cells."""

from __future__ import annotations

import torch

from kpdet.ops.peaks import neighbours


def quarter_offset(heatmaps: torch.Tensor, cells: torch.Tensor, step: float = 0.25) -> torch.Tensor:
    """Move ``step`` cells towards the higher neighbour on each axis (SimpleBaseline, Xiao et al. 2018)."""
    n = neighbours(heatmaps, cells)
    dx = torch.sign(n["r"] - n["l"]) * step * n["inside_x"]
    dy = torch.sign(n["d"] - n["u"]) * step * n["inside_y"]
    return torch.stack([dx, dy], dim=-1)


def log_quadratic_offset(heatmaps: torch.Tensor, cells: torch.Tensor, eps: float = 1e-10,
                         max_offset: float = 0.5) -> torch.Tensor:
    """Vertex of the 3-point parabola through log-values on each axis.

    log of a Gaussian is an exact quadratic, so on an untruncated Gaussian target this
    recovers the sub-pixel centre exactly (the separable core of DARK, Zhang et al. 2020,
    without its blur and cross terms).
    """
    n = neighbours(heatmaps, cells)
    lc, ll, lr, lu, ld = (torch.log(n[key].clamp_min(eps)) for key in ("c", "l", "r", "u", "d"))
    curv_x = ll - 2 * lc + lr
    curv_y = lu - 2 * lc + ld
    # a proper maximum needs negative curvature; otherwise leave the axis at the integer peak
    ok_x = n["inside_x"] & (curv_x < 0)
    ok_y = n["inside_y"] & (curv_y < 0)
    dx = torch.where(ok_x, -0.5 * (lr - ll) / torch.where(ok_x, curv_x, -1.0), 0.0)
    dy = torch.where(ok_y, -0.5 * (ld - lu) / torch.where(ok_y, curv_y, -1.0), 0.0)
    return torch.stack([dx, dy], dim=-1).clamp(-max_offset, max_offset)
