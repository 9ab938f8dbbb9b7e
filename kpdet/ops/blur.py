"""Gaussian filtering of heatmaps (CPN, Chen et al. 2018; CCM Sec. 5.3; DARK's modulation)."""

from __future__ import annotations

from functools import lru_cache

import torch


def opencv_sigma(kernel: int) -> float:
    """OpenCV's sigma for a kernel size when none is given: 0.3·((k − 1)/2 − 1) + 0.8."""
    return 0.3 * ((kernel - 1) * 0.5 - 1) + 0.8


def blur_matrix(n: int, kernel: int, sigma: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """(n, n) matrix of a 1-D Gaussian filter along an axis of length n, the replicated border folded in:
    ``M @ v`` filters v.

    On a 64- or 48-long axis the dense product does ~5× the multiply-adds of an 11-tap
    convolution but runs at the CPU's matrix-multiply peak, which depthwise and single-channel
    convolutions are far from: it is the faster filter here (``--blur-variants`` in
    benchmarks/ccm_decode_speed.py measures the alternatives).
    """
    return _blur_matrix(n, kernel, float(sigma), str(torch.device(device or "cpu")), dtype)


@lru_cache(maxsize=32)
def _blur_matrix(n: int, kernel: int, sigma: float, device: str, dtype: torch.dtype) -> torch.Tensor:
    r = kernel // 2
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-t**2 / (2 * sigma**2))
    g = g / g.sum()
    rows = torch.arange(n)[:, None].expand(n, kernel)
    cols = (rows + t.long()[None]).clamp(0, n - 1)  # replicate: taps beyond the border read the edge
    m = torch.zeros(n, n, dtype=torch.float64)
    m.index_put_((rows, cols), g.expand(n, kernel), accumulate=True)
    return m.to(device=device, dtype=dtype)


def gaussian_blur(maps: torch.Tensor, kernel: int = 11, sigma: float | None = None,
                  keep_max: bool = True) -> torch.Tensor:
    """maps (B, C, H, W) convolved with a separable Gaussian (borders replicated).

    ``keep_max``: each map is rescaled to its original maximum, as DARK does, so the peak value
    (the keypoint score) is unchanged by the filter. Decoding does not need the whole filtered
    maps: :func:`kpdet.ops.peak_search.find_peaks` filters and searches in cache-sized chunks.
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


def banded_product(g: torch.Tensor, b: torch.Tensor, radius: int, out: torch.Tensor, block: int = 16
                   ) -> torch.Tensor:
    """out = g @ b for a band matrix g (L, L) (g[i, j] = 0 where |i − j| > radius) and b (L, M), written
    into ``out`` (L, M): ``block`` rows at a time, each reading only the rows of b inside the band.
    For an 11-tap filter of a 48- or 64-cell axis this does ~40% of the dense product's work."""
    n = g.shape[0]
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        a, e = max(lo - radius, 0), min(hi + radius, n)
        torch.mm(g[lo:hi, a:e], b[a:e], out=out[lo:hi])
    return out
