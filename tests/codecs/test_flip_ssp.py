"""Flip test with CCM's sub-pixel shift (Eq. 25) in kpdet's pixel-centre convention."""

import pytest
import torch
import torch.nn.functional as F

from kpdet.codecs.heatmap import Dark, FlipTest, GaussianFilter, HeatmapDecoder, Parabola, build_refine
from kpdet.ops.flip import shift_x


def _pool_model(x):
    return F.avg_pool2d(x, 4)  # exactly flip-equivariant in the stride-4 cell convention


def _blobs(xs, ys, h=256, w=192, sigma=8.0):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    return torch.stack([torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in zip(xs, ys)])[None]


def test_ssp_shift_relative_to_simplebaseline_convention():
    assert FlipTest.subpixel_shift(1.0, 4).shift_px == pytest.approx(0.25)  # classic 1-px shift's residual
    assert FlipTest.subpixel_shift(1.25, 4).shift_px == pytest.approx(0.05)  # the paper's best 0.8 px
    assert FlipTest.subpixel_shift(4 / 3, 4).shift_px == pytest.approx(0.0)  # exact alignment
    with pytest.raises(ValueError):
        FlipTest.subpixel_shift(0.9, 4)


def test_shift_x_is_eq25_interpolation():
    h = torch.rand(1, 2, 3, 9)
    r = 1.6
    eq25 = (1 - 1 / r) * h + (1 / r) * torch.cat([h[..., :1], h[..., :-1]], dim=-1)  # j0 = 1
    assert torch.allclose(shift_x(h, 1 / r), eq25)


@pytest.mark.parametrize("r", [1.0, 1.25, 4 / 3, 2.0])
def test_flip_ssp_round_trip_bias_is_the_designed_residual(r):
    images = _blobs([37.3, 120.8, 90.1], [50.6, 201.1, 128.4]).float()
    ident = torch.arange(3)
    plain = HeatmapDecoder(4, Dark())
    ssp = HeatmapDecoder(4, Dark(), FlipTest.subpixel_shift(r, 4))
    p0, _ = plain.decode(plain.heatmaps(_pool_model, images, ident))
    p1, _ = ssp.decode(ssp.heatmaps(_pool_model, images, ident))
    shift_px = 4 * (1 / r - 1 + 1 / 4)  # residual in input pixels; half of it survives the average
    assert (p1[..., 0] - p0[..., 0] - shift_px / 2).abs().max() < 0.05
    assert (p1[..., 1] - p0[..., 1]).abs().max() < 0.05
    if r == 4 / 3:
        assert (p1 - p0).abs().max() < 0.05  # unbiased


def test_full_chain_gf_flip_parabola_recovers_points():
    xs, ys = [37.3, 120.8], [50.6, 201.1]
    images = _blobs(xs, ys).float()
    dec = HeatmapDecoder(4, Parabola(), FlipTest.subpixel_shift(4 / 3, 4), GaussianFilter(11))
    pts, _ = dec.decode(dec.heatmaps(_pool_model, images, torch.arange(2)))
    # pooled 8-px blobs: the maps are smooth Gaussians of sigma ~2 cells, their centre at (x − 1.5)/4
    assert (pts[0] - torch.tensor([xs, ys]).T).abs().max() < 0.25


def test_build_refine_names():
    for name in ("none", "quarter", "log_quadratic", "parabola", "paraboloid", "dark"):
        build_refine(name)
    with pytest.raises(ValueError):
        build_refine("bogus")


@pytest.mark.parametrize("refine", ["none", "quarter", "log_quadratic", "parabola", "paraboloid", "dark"])
@pytest.mark.parametrize("blur", [False, True])
def test_predict_with_the_flip_in_the_decoder_equals_decoding_the_averaged_maps(refine, blur):
    torch.manual_seed(0)
    outputs = {"plain": torch.rand(5, 4, 16, 12), "mirrored": torch.rand(5, 4, 16, 12)}
    images = torch.zeros(5, 3, 1, 1)
    flip_index = torch.tensor([1, 0, 2, 3])

    def model_fn(x):  # the mirrored crops are the flipped images
        return outputs["plain"] if x is images else outputs["mirrored"]

    dec = HeatmapDecoder(4, build_refine(refine), FlipTest.subpixel_shift(1.25, 4),
                         GaussianFilter(11) if blur else None)
    stored = dec.decode(dec.heatmaps(model_fn, images, flip_index))
    fused = dec.predict(model_fn, images, flip_index)
    for a, b in zip(stored, fused):
        assert torch.allclose(a, b, atol=1e-5)


def test_mirrored_maps_need_a_flip_test():
    with pytest.raises(ValueError, match="flip test"):
        HeatmapDecoder(4, Parabola()).decode(torch.rand(1, 2, 8, 8), mirrored=torch.rand(1, 2, 8, 8))
