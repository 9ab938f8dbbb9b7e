import numpy as np
import pytest

from kpdet.data.transforms import (ColorJitter, HalfBody, ScaleRotateJitter, body_halves, box_to_center_size,
                                   crop_affine, flip_keypoint_order, warp_image, warp_keypoints)
from kpdet.ops.affine import apply_affine, invert_affine
from kpdet.schema import COCO17, KeypointSchema


@pytest.mark.parametrize("rotation,flip", [(0.0, False), (33.0, False), (-70.0, True), (0.0, True)])
def test_crop_affine_round_trip_is_exact(rotation, flip):
    rng = np.random.default_rng(1)
    center, size = box_to_center_size(np.array([40.3, 17.9, 55.0, 130.2]), 192 / 256)
    m = crop_affine(center, size, (192, 256), rotation, flip)
    kp = np.concatenate([rng.uniform(0, 300, (17, 2)), rng.integers(0, 3, (17, 1))], 1)
    back = warp_keypoints(warp_keypoints(kp, m), invert_affine(m))
    np.testing.assert_allclose(back, kp, atol=1e-9)


def test_box_maps_onto_crop_edges():
    # a box with the crop's aspect and no padding fills the crop from corner to corner
    center, size = box_to_center_size(np.array([10.0, 20.0, 30.0, 40.0]), 48 / 64, padding=1.0)
    np.testing.assert_allclose(size, [30, 40])
    m = crop_affine(center, size, (48, 64))
    corners = apply_affine(np.array([[10.0, 20.0], [40.0, 60.0], [25.0, 40.0]]), m)
    np.testing.assert_allclose(corners, [[-0.5, -0.5], [47.5, 63.5], [23.5, 31.5]], atol=1e-12)


def test_aspect_fix_and_padding():
    _, size = box_to_center_size(np.array([0, 0, 100.0, 50.0]), 0.75, padding=1.25)
    np.testing.assert_allclose(size, [125.0, 125.0 / 0.75])


def test_rotation_turns_content_counter_clockwise():
    m = crop_affine(np.array([50.0, 50.0]), np.array([40.0, 40.0]), (40, 40), rotation=90.0)
    right_of_centre = apply_affine(np.array([[60.0, 50.0]]), m)[0]
    np.testing.assert_allclose(right_of_centre, [19.5, 9.5], atol=1e-9)  # above the crop centre


def _blob(shape, x, y, sigma):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))


@pytest.mark.parametrize("rotation,flip", [(0.0, False), (25.0, True)])
def test_image_warp_and_keypoint_warp_agree(rotation, flip):
    # a smooth blob's centroid moves exactly where the affine sends its centre (cv2 convention)
    img = (_blob((200, 160), 71.3, 88.6, 6.0) * 250).astype(np.uint8)
    img = np.repeat(img[..., None], 3, axis=2)
    center, size = box_to_center_size(np.array([40.0, 50.0, 70.0, 90.0]), 0.75)
    m = crop_affine(center, size, (96, 128), rotation, flip)
    crop = warp_image(img, m, (96, 128)).astype(np.float64)[..., 0]
    yy, xx = np.mgrid[: crop.shape[0], : crop.shape[1]]
    centroid = np.array([(crop * xx).sum(), (crop * yy).sum()]) / crop.sum()
    expected = apply_affine(np.array([[71.3, 88.6]]), m)[0]
    np.testing.assert_allclose(centroid, expected, atol=0.05)


def test_flipped_crop_is_mirror_image_and_flip_twice_is_identity():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (80, 60, 3), dtype=np.uint8)
    center, size = np.array([29.5, 39.5]), np.array([60.0, 80.0])  # integer-aligned: no interpolation
    plain = warp_image(img, crop_affine(center, size, (60, 80)), (60, 80))
    mirrored = warp_image(img, crop_affine(center, size, (60, 80), flip=True), (60, 80))
    assert np.array_equal(plain, img)
    assert np.array_equal(mirrored, plain[:, ::-1])
    mirror = crop_affine(np.array([29.5, 39.5]), size, (60, 80), flip=True)  # a pure mirror of the crop
    kp = np.concatenate([rng.uniform(0, 60, (17, 2)), np.full((17, 1), 2.0)], 1)
    twice = flip_keypoint_order(warp_keypoints(flip_keypoint_order(warp_keypoints(kp, mirror), COCO17.flip_index),
                                               mirror), COCO17.flip_index)
    np.testing.assert_allclose(twice, kp, atol=1e-12)


def test_flip_swaps_coco17_left_and_right():
    kp = np.zeros((17, 3))
    kp[:, 2] = 2
    kp[9, :2] = [10.0, 30.0]  # left wrist on the image's left
    kp[10, :2] = [50.0, 30.0]  # right wrist
    m = crop_affine(np.array([29.5, 39.5]), np.array([60.0, 80.0]), (60, 80), flip=True)
    out = flip_keypoint_order(warp_keypoints(kp, m), COCO17.flip_index)
    np.testing.assert_allclose(out[9, :2], [59 - 50.0, 30.0])  # the new left wrist is the mirrored right one
    np.testing.assert_allclose(out[10, :2], [59 - 10.0, 30.0])
    names = COCO17.keypoints
    for i, j in enumerate(COCO17.flip_index):
        assert names[i].replace("left", "X").replace("right", "X") == names[j].replace("left", "X").replace("right", "X")


def test_body_halves_coco17_and_unknown_names():
    upper, lower = body_halves(COCO17)
    assert upper.tolist() == list(range(11)) and lower.tolist() == list(range(11, 17))
    assert body_halves(KeypointSchema("thing", ("a", "b", "c", "d"))) is None


def test_half_body_box_covers_only_one_half():
    rng = np.random.default_rng(0)
    kp = np.concatenate([np.stack([np.linspace(40, 60, 17), np.linspace(0, 160, 17)], 1), np.full((17, 1), 2.0)], 1)
    hb = HalfBody(prob=1.0, min_keypoints=8, padding=1.0)
    seen = set()
    for _ in range(40):
        center, size = hb(kp, 0.75, rng, body_halves(COCO17))
        top, bottom = center[1] - size[1] / 2, center[1] + size[1] / 2
        inside = (kp[:, 1] >= top - 1e-9) & (kp[:, 1] <= bottom + 1e-9)
        assert inside.tolist() in ([True] * 11 + [False] * 6, [False] * 11 + [True] * 6)
        seen.add(bool(inside[0]))
    assert seen == {True, False}


def test_half_body_needs_enough_keypoints_and_splits_any_k_by_height():
    rng = np.random.default_rng(0)
    hb = HalfBody(prob=1.0, min_keypoints=8, padding=1.0)
    few = np.array([[0, 0, 2], [5, 5, 2], [9, 9, 0]], np.float64)
    assert hb(few, 1.0, rng) is None
    k6 = np.array([[0, 0, 2], [10, 1, 2], [5, 2, 2], [0, 50, 2], [10, 51, 2], [5, 52, 2]], np.float64)
    center, size = hb(k6, 1.0, rng)
    assert center[1] in (1.0, 51.0)


def test_jitter_ranges():
    rng = np.random.default_rng(0)
    j = ScaleRotateJitter(0.35, 45.0, 0.6)
    draws = np.array([j(rng) for _ in range(500)])
    assert draws[:, 0].min() >= 0.65 and draws[:, 0].max() <= 1.35
    assert np.abs(draws[:, 1]).max() <= 90 and 0.45 < (draws[:, 1] != 0).mean() < 0.75


def test_color_jitter():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    assert ColorJitter()(img, rng) is img
    out = ColorJitter(0.4, 0.4, 0.4, 0.1)(img, rng)
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)
    grey = np.full((4, 4, 3), 128, np.uint8)
    assert np.array_equal(ColorJitter(hue=0.5)(grey, rng), grey)  # hue leaves grey alone
