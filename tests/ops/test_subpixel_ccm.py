"""CCM's refinements (Eq. 13, Eq. 14–22), DARK and the Gaussian filter on heatmaps rendered from
known sub-pixel peaks."""

import numpy as np
import pytest
import torch

from kpdet.ops.blur import gaussian_blur, opencv_sigma
from kpdet.ops.peaks import argmax_2d, window3x3
from kpdet.ops.subpixel import dark_offset, parabola_offset, paraboloid_offset


def _render(mu, sigma, h=64, w=48, cov=None):
    """(1, N, h, w) untruncated Gaussians centred at mu (N, 2) x, y in cells (optionally anisotropic)."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    dx = xx[None] - mu[:, 0, None, None]
    dy = yy[None] - mu[:, 1, None, None]
    if cov is None:
        q = (dx**2 + dy**2) / sigma**2
    else:
        inv = torch.linalg.inv(torch.as_tensor(cov, dtype=torch.float64))
        q = inv[0, 0] * dx**2 + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy**2
    return torch.exp(-q / 2)[None]


@pytest.fixture
def peaks():
    rng = np.random.default_rng(0)
    return torch.as_tensor(rng.uniform([4, 4], [43, 59], (300, 2)))


@pytest.mark.parametrize("offset_fn", [parabola_offset, paraboloid_offset, dark_offset])
def test_refinements_recover_subpixel_peaks_within_0_05(offset_fn, peaks):
    hm = _render(peaks, sigma=2.0)  # the paper's sigma at 64×48
    cells, _ = argmax_2d(hm)
    err = (cells + offset_fn(hm, cells) - peaks[None]).abs()
    assert err.max() < 0.05
    assert (cells - peaks[None]).abs().max() > 0.4  # the argmax alone is not enough


def test_dark_and_log_paraboloid_are_exact_on_rotated_gaussians(peaks):
    hm = _render(peaks, None, cov=[[6.0, 2.5], [2.5, 3.0]])
    cells, _ = argmax_2d(hm)
    assert (cells + dark_offset(hm, cells) - peaks[None]).abs().max() < 1e-6
    assert (cells + paraboloid_offset(hm, cells, log=True) - peaks[None]).abs().max() < 1e-6
    # the per-axis parabola ignores the cross term and is biased here
    assert (cells + parabola_offset(hm, cells) - peaks[None]).abs().max() > 0.05


def test_parabola_matches_eq13_by_hand():
    hm = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    hm[0, 0, 2, 1:4] = torch.tensor([0.5, 1.0, 0.8])  # z0, z1, z2 along x
    hm[0, 0, 1:4, 2] = torch.tensor([0.9, 1.0, 0.1])
    cells = torch.tensor([[[2.0, 2.0]]], dtype=torch.float64)
    off = parabola_offset(hm, cells)[0, 0]
    assert off[0] == pytest.approx((0.5 - 0.8) / (2 * (0.5 + 0.8 - 2.0)))
    assert off[1] == pytest.approx((0.9 - 0.1) / (2 * (0.9 + 0.1 - 2.0)))


def test_paraboloid_is_exact_on_a_quadratic_surface():
    # z = a x² + b y² + c xy + d x + e y + f around (3, 2); Eq. 17–21 recover a…e exactly on it
    a, b, c, d, e = -0.3, -0.5, 0.1, 0.07, -0.04
    yy, xx = torch.meshgrid(torch.arange(5.0, dtype=torch.float64) - 2, torch.arange(7.0, dtype=torch.float64) - 3,
                            indexing="ij")
    z = (a * xx**2 + b * yy**2 + c * xx * yy + d * xx + e * yy + 5.0)[None, None]
    cells = torch.tensor([[[3.0, 2.0]]], dtype=torch.float64)
    off = paraboloid_offset(z, cells)[0, 0]
    det = c * c - 4 * a * b
    assert off[0] == pytest.approx((2 * b * d - c * e) / det)
    assert off[1] == pytest.approx((2 * a * e - c * d) / det)


def test_refinements_stay_at_the_peak_on_borders_and_flat_maps():
    hm = torch.zeros(1, 2, 8, 8)
    hm[0, 0, 0, 0] = 1.0  # corner peak: no window
    cells, _ = argmax_2d(hm)
    for fn in (parabola_offset, paraboloid_offset, dark_offset):
        off = fn(hm, cells)
        assert torch.isfinite(off).all() and off.abs().max() == 0


def test_window3x3_layout():
    hm = torch.arange(30.0).reshape(1, 1, 5, 6)
    z, inside = window3x3(hm, torch.tensor([[[2.0, 3.0]]]))
    assert z[0, 0].tolist() == [[13, 14, 15], [19, 20, 21], [25, 26, 27]] and bool(inside)


def test_gaussian_filter_keeps_max_and_centre():
    mu = torch.tensor([[20.3, 30.7]], dtype=torch.float64)
    hm = _render(mu, 2.0).float()
    out = gaussian_blur(hm, 11)
    assert out.max().item() == pytest.approx(hm.max().item(), rel=1e-5)
    cells, _ = argmax_2d(out.double())
    assert (cells + dark_offset(out.double(), cells) - mu[None]).abs().max() < 0.01
    assert opencv_sigma(11) == pytest.approx(2.0)
    noisy = hm + 0.2 * torch.rand_like(hm)
    assert gaussian_blur(noisy, 11).diff(dim=-1).abs().mean() < noisy.diff(dim=-1).abs().mean()
