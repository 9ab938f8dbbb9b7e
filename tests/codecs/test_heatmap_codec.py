import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kpdet.codecs.heatmap import FlipTest, HeatmapDecoder, LogQuadratic, NoRefine, QuarterShift, gaussian_heatmaps
from kpdet.data.transforms import box_to_center_size, crop_affine, warp_keypoints
from kpdet.ops.affine import invert_affine
from kpdet.structures import image_to_map


def test_gaussian_targets_peak_and_weights():
    kp = np.array([[17.5, 33.5, 2], [100.0, 20.0, 0], [-30.0, 20.0, 1], [191.0, 255.0, 1]])
    hm, w = gaussian_heatmaps(kp, (64, 48), 4, 2.0)
    assert hm.shape == (4, 64, 48) and hm.dtype == np.float32
    assert w.tolist() == [1, 0, 0, 1]  # v=0 and off-map give weight 0
    assert hm[0, 8, 4] == pytest.approx(1.0)  # (17.5 - 1.5) / 4 = 4, (33.5 - 1.5) / 4 = 8
    assert hm[1].max() == 0 and hm[2].max() == 0
    assert np.unravel_index(hm[3].argmax(), (64, 48)) == (63, 47)


def _encode_decode(points_img, matrix, decoder, size=(64, 48), stride=4, sigma=2.0):
    kp = np.concatenate([points_img, np.full((len(points_img), 1), 2.0)], 1)
    crop_kp = warp_keypoints(kp, matrix)
    hm, w = gaussian_heatmaps(crop_kp, size, stride, sigma, radius=100)
    pts, maxvals = decoder.decode(torch.as_tensor(hm)[None], torch.as_tensor(invert_affine(matrix))[None])
    return pts[0].double().numpy(), w


def test_round_trip_through_crop_affine_is_exact_with_log_quadratic():
    rng = np.random.default_rng(0)
    center, size = box_to_center_size(np.array([200.7, 50.2, 150.0, 310.0]), 0.75)
    m = crop_affine(center, size, (192, 256), rotation=20.0, flip=True)
    crop_pts = rng.uniform([8, 8], [184, 248], (17, 2))
    img_pts = warp_keypoints(np.concatenate([crop_pts, np.ones((17, 1))], 1), invert_affine(m))[:, :2]
    pts, w = _encode_decode(img_pts, m, HeatmapDecoder(4, LogQuadratic()))
    assert w.all()
    assert np.abs(pts - img_pts).max() < 0.05


def test_argmax_alone_is_off_by_up_to_half_a_cell():
    # the refinement matters: without it the same round trip is far outside 0.05 px
    m = crop_affine(np.array([95.5, 127.5]), np.array([192.0, 256.0]), (192, 256))
    img_pts = np.array([[4 * 10.4 + 1.5, 4 * 20.0 + 1.5]])
    pts, _ = _encode_decode(img_pts, m, HeatmapDecoder(4, NoRefine()))
    assert abs(pts[0, 0] - img_pts[0, 0]) == pytest.approx(1.6)


@settings(max_examples=200, deadline=None)
@given(st.floats(1.0, 46.0), st.floats(1.0, 62.0), st.floats(1.0, 3.0))
def test_quarter_shift_lands_within_a_quarter_cell(u, v, sigma):
    hm, _ = gaussian_heatmaps(np.array([[4 * u + 1.5, 4 * v + 1.5, 2]]), (64, 48), 4, sigma)
    pts, _ = HeatmapDecoder(4, QuarterShift()).decode(torch.as_tensor(hm)[None])
    cells = image_to_map(pts[0, 0].double().numpy(), 4)
    assert np.abs(cells - [u, v]).max() <= 0.25 + 1e-4


def _pool_model(x):
    """An ideal flip-equivariant 'network': 4×4 average pooling is exactly the stride-4 cell
    convention (cell u averages input pixels 4u … 4u + 3)."""
    return F.avg_pool2d(x, 4)


def _blob_images(xs, ys, h=256, w=192, sigma=8.0):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    maps = [torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in zip(xs, ys)]
    return torch.stack(maps)[None].float()  # (1, K, H, W)


def test_flip_test_of_an_equivariant_model_is_unbiased_without_shift():
    images = _blob_images([37.3, 120.8], [50.6, 201.1])
    ident = torch.arange(2)
    plain = HeatmapDecoder(4, LogQuadratic())
    flipped = HeatmapDecoder(4, LogQuadratic(), FlipTest(shift_px=0.0))
    classic = HeatmapDecoder(4, LogQuadratic(), FlipTest(shift_px=1.0))
    p0, _ = plain.decode(plain.heatmaps(_pool_model, images, ident))
    p1, _ = flipped.decode(flipped.heatmaps(_pool_model, images, ident))
    p2, _ = classic.decode(classic.heatmaps(_pool_model, images, ident))
    assert torch.allclose(p0, p1, atol=1e-3)
    assert (p2[..., 0] - p0[..., 0]).abs().min() > 1.0  # a 1-cell shift biases x by ~2 px here


def _sided_model(x):
    """Channel 0 = blobs on the left half, channel 1 = on the right half: mirroring the input
    swaps the channels, like a person's left and right wrists (equivariant with flip_index [1, 0])."""
    s = F.avg_pool2d(x.sum(1, keepdim=True), 4)  # (B, 1, Hm, Wm)
    left = (torch.arange(s.shape[-1]) < s.shape[-1] // 2).to(s)
    return torch.cat([s * left, s * (1 - left)], dim=1)


def test_flip_test_swaps_channels():
    images = _blob_images([37.3, 150.2], [50.6, 80.1])
    dec = HeatmapDecoder(4, LogQuadratic(), FlipTest())
    assert torch.allclose(dec.heatmaps(_sided_model, images, torch.tensor([1, 0])), _sided_model(images), atol=1e-6)
    unswapped = dec.heatmaps(_sided_model, images, torch.tensor([0, 1]))
    assert not torch.allclose(unswapped, _sided_model(images), atol=1e-3)
