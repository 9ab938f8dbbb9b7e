"""Sub-pixel offsets around an integer heatmap peak, each read from the peak's 3×3 window only.

The ``*_step`` functions take a :class:`~kpdet.ops.peaks.PeakWindow` (what the batched decoder
gathers once per keypoint); the ``*_offset`` functions gather it from full heatmaps and integer
cells first. Each returns (B, K, 2) dx, dy in cells.
"""

from __future__ import annotations

import torch

from kpdet.ops.peaks import PeakWindow


def quarter_step(win: PeakWindow, step: float = 0.25) -> torch.Tensor:
    """Move ``step`` cells towards the higher neighbour on each axis (SimpleBaseline, Xiao et al. 2018)."""
    z = win.z
    dx = torch.sign(z[..., 1, 2] - z[..., 1, 0]) * step * win.inside_x
    dy = torch.sign(z[..., 2, 1] - z[..., 0, 1]) * step * win.inside_y
    return torch.stack([dx, dy], dim=-1)


def _axis_vertex(lo: torch.Tensor, mid: torch.Tensor, hi: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """CCM Eq. 13 on one axis: x* − x1 = (z0 − z2) / (2 (z0 + z2 − 2 z1)); 0 where the three points
    are not a proper maximum (curvature ≥ 0) or a neighbour is off the map."""
    curv = lo + hi - 2 * mid
    ok = inside & (curv < 0)
    return torch.where(ok, (lo - hi) / (2 * torch.where(ok, curv, -1.0)), 0.0)


def log_quadratic_step(win: PeakWindow, eps: float = 1e-10, max_offset: float = 0.5) -> torch.Tensor:
    """Vertex of the 3-point parabola through log-values on each axis.

    log of a Gaussian is an exact quadratic, so on an untruncated Gaussian target this
    recovers the sub-pixel centre exactly (the separable core of DARK, Zhang et al. 2020,
    without its blur and cross terms).
    """
    lz = torch.log(win.z.clamp_min(eps))
    return parabola_step(PeakWindow(lz, win.inside_x, win.inside_y), max_offset)


def parabola_step(win: PeakWindow, max_offset: float = 0.5) -> torch.Tensor:
    """CCM Eq. 13 on each axis: the vertex of the parabola through the peak and its two neighbours,
    x* = x0 + (z0 − z2) / (2 (z0 + z2 − 2 z1)), on the raw heatmap values."""
    z = win.z
    dx = _axis_vertex(z[..., 1, 0], z[..., 1, 1], z[..., 1, 2], win.inside_x)
    dy = _axis_vertex(z[..., 0, 1], z[..., 1, 1], z[..., 2, 1], win.inside_y)
    return torch.stack([dx, dy], dim=-1).clamp(-max_offset, max_offset)


def paraboloid_step(win: PeakWindow, max_offset: float = 1.0, log: bool = False, eps: float = 1e-10
                    ) -> torch.Tensor:
    """CCM Eq. 14–22: the stationary point of z = a x² + b y² + c xy + d x + e y + f fitted to the
    3×3 neighbourhood of the peak (coefficients Eq. 17–21, solution Eq. 22). Where the fit is not
    a maximum (c² − 4ab ≥ 0 or a ≥ 0) or the window leaves the map, the offset is 0.
    ``log=True`` fits the log heatmap (exact for Gaussians of any orientation)."""
    z = torch.log(win.z.clamp_min(eps)) if log else win.z  # (B, K, 3, 3), z[row, col]
    z00, z01, z02 = z[..., 0, 0], z[..., 0, 1], z[..., 0, 2]
    z10, z11, z12 = z[..., 1, 0], z[..., 1, 1], z[..., 1, 2]
    z20, z21, z22 = z[..., 2, 0], z[..., 2, 1], z[..., 2, 2]
    a = (2 * (z12 + z10 - 2 * z11) + (z02 + z00 - 2 * z01) + (z22 + z20 - 2 * z21)) / 8  # Eq. 17
    b = (2 * (z01 + z21 - 2 * z11) + (z00 + z20 - 2 * z10) + (z02 + z22 - 2 * z12)) / 8  # Eq. 18
    c = (z00 + z22 - z02 - z20) / 4  # Eq. 19
    d = ((z02 - z00) + (z22 - z20) + 2 * (z12 - z10)) / 8  # Eq. 20
    e = ((z20 - z00) + (z22 - z02) + 2 * (z21 - z01)) / 8  # Eq. 21
    det = c * c - 4 * a * b
    ok = win.inside & (det < 0) & (a < 0)
    safe = torch.where(ok, det, -1.0)
    dx = torch.where(ok, (2 * b * d - c * e) / safe, 0.0)  # Eq. 22
    dy = torch.where(ok, (2 * a * e - c * d) / safe, 0.0)
    return torch.stack([dx, dy], dim=-1).clamp(-max_offset, max_offset)


def dark_step(win: PeakWindow, eps: float = 1e-10, max_offset: float = 1.0) -> torch.Tensor:
    """DARK's Taylor step (Zhang et al., CVPR 2020, Eq. 6–8): offset = −H⁻¹ ∇ of the log heatmap at the
    peak, gradient and Hessian (with its cross term) by central differences over the 3×3 window.
    DARK's distribution modulation is the separate Gaussian-filter step."""
    lz = torch.log(win.z.clamp_min(eps))
    gx = 0.5 * (lz[..., 1, 2] - lz[..., 1, 0])
    gy = 0.5 * (lz[..., 2, 1] - lz[..., 0, 1])
    hxx = lz[..., 1, 2] - 2 * lz[..., 1, 1] + lz[..., 1, 0]
    hyy = lz[..., 2, 1] - 2 * lz[..., 1, 1] + lz[..., 0, 1]
    hxy = 0.25 * (lz[..., 2, 2] - lz[..., 0, 2] - lz[..., 2, 0] + lz[..., 0, 0])
    det = hxx * hyy - hxy * hxy
    ok = win.inside & (det > 0) & (hxx < 0)
    safe = torch.where(ok, det, 1.0)
    dx = torch.where(ok, -(hyy * gx - hxy * gy) / safe, 0.0)
    dy = torch.where(ok, -(hxx * gy - hxy * gx) / safe, 0.0)
    return torch.stack([dx, dy], dim=-1).clamp(-max_offset, max_offset)


# -- the same on full heatmaps (B, K, H, W) and integer cells (B, K, 2) ----------------------------
def quarter_offset(heatmaps: torch.Tensor, cells: torch.Tensor, step: float = 0.25) -> torch.Tensor:
    return quarter_step(PeakWindow.at(heatmaps, cells), step)


def log_quadratic_offset(heatmaps: torch.Tensor, cells: torch.Tensor, eps: float = 1e-10,
                         max_offset: float = 0.5) -> torch.Tensor:
    return log_quadratic_step(PeakWindow.at(heatmaps, cells), eps, max_offset)


def parabola_offset(heatmaps: torch.Tensor, cells: torch.Tensor, max_offset: float = 0.5) -> torch.Tensor:
    return parabola_step(PeakWindow.at(heatmaps, cells), max_offset)


def paraboloid_offset(heatmaps: torch.Tensor, cells: torch.Tensor, max_offset: float = 1.0,
                      log: bool = False, eps: float = 1e-10) -> torch.Tensor:
    return paraboloid_step(PeakWindow.at(heatmaps, cells), max_offset, log, eps)


def dark_offset(heatmaps: torch.Tensor, cells: torch.Tensor, eps: float = 1e-10,
                max_offset: float = 1.0) -> torch.Tensor:
    return dark_step(PeakWindow.at(heatmaps, cells), eps, max_offset)
