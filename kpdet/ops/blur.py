"""Gaussian filtering of heatmaps (CPN, Chen et al. 2018; CCM Sec. 5.3; DARK's modulation)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def opencv_sigma(kernel: int) -> float:
    """OpenCV's sigma for a kernel size when none is given: 0.3·((k − 1)/2 − 1) + 0.8."""
    return 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8


def gaussian_blur(maps: torch.Tensor, kernel: int = 11, sigma: float | None = None,
                  keep_max: bool = True) -> torch.Tensor:
    """maps (B, C, H, W) convolved with a separable Gaussian (borders replicated).

    ``keep_max``: each map is rescaled to its original maximum, as DARK does, so the peak value
    (the keypoint score) is unchanged by the filter.
    """
    sigma = opencv_sigma(kernel) if sigma is None else sigma
    b, c, h, w = maps.shape
    r = kernel // 2
    t = torch.arange(kernel, device=maps.device, dtype=maps.dtype) - r
    g = torch.exp(-t**2 / (2 * sigma**2))
    g = g / g.sum()
    x = maps.reshape(b * c, 1, h, w)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, kernel))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.view(1, 1, kernel, 1))
    out = x.reshape(b, c, h, w)
    if keep_max:
        before = maps.amax(dim=(2, 3), keepdim=True)
        after = out.amax(dim=(2, 3), keepdim=True)
        out = out * torch.where(after > 0, before / after.clamp_min(1e-12), 0.0)
    return out
