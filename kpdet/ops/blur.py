"""Gaussian filtering of heatmaps (CPN, Chen et al. 2018; CCM Sec. 5.3; DARK's modulation)."""

from __future__ import annotations

import torch


def opencv_sigma(kernel: int) -> float:
    """OpenCV's sigma for a kernel size when none is given: 0.3·((k − 1)/2 − 1) + 0.8."""
    return 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8


def blur_matrix(n: int, kernel: int, sigma: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """(n, n) matrix of a 1-D Gaussian filter along an axis of length n, the replicated border folded in:
    ``M @ v`` filters v. Dense matrix products beat 1-channel convolutions on CPU by ~10× here."""
    r = kernel // 2
    t = torch.arange(-r, r + 1, device=device, dtype=torch.float64)
    g = torch.exp(-t**2 / (2 * sigma**2))
    g = g / g.sum()
    rows = torch.arange(n, device=device)[:, None].expand(n, kernel)
    cols = (rows + t.long()[None]).clamp(0, n - 1)  # replicate: taps beyond the border read the edge
    m = torch.zeros(n, n, device=device, dtype=torch.float64)
    m.index_put_((rows, cols), g.expand(n, kernel), accumulate=True)
    return m.to(dtype)


def gaussian_blur(maps: torch.Tensor, kernel: int = 11, sigma: float | None = None,
                  keep_max: bool = True) -> torch.Tensor:
    """maps (B, C, H, W) convolved with a separable Gaussian (borders replicated).

    ``keep_max``: each map is rescaled to its original maximum, as DARK does, so the peak value
    (the keypoint score) is unchanged by the filter.
    """
    sigma = opencv_sigma(kernel) if sigma is None else sigma
    h, w = maps.shape[-2:]
    gy = blur_matrix(h, kernel, sigma, maps.device, maps.dtype)  # (H, H)
    gx = blur_matrix(w, kernel, sigma, maps.device, maps.dtype)  # (W, W)
    out = gy @ maps @ gx.T  # (B, C, H, W)
    if keep_max:
        before = maps.amax(dim=(2, 3), keepdim=True)
        after = out.amax(dim=(2, 3), keepdim=True)
        out = out * torch.where(after > 0, before / after.clamp_min(1e-12), 0.0)
    return out
