import numpy as np
import pytest

from kpdet.schema import COCO17, KeypointSchema
from kpdet.structures import Instances, Prediction
from kpdet.viz.draw import (LEFT, PALETTE, RIGHT, Style, category_colors, draw_heatmaps, draw_instances,
                            draw_predictions, draw_skeletons, keypoint_sides, shade, side_by_side, track_color)

BG = 128
TRI = KeypointSchema("tri", ("a", "b", "c"), ((0, 1), (1, 2), (0, 2)))
STYLE = Style(thickness=3, radius=8, font_scale=0.5)


def _blank(h=300, w=300):
    return np.full((h, w, 3), BG, np.uint8)


def _changed(img, x, y, r=2):
    patch = img[y - r: y + r + 1, x - r: x + r + 1].astype(int)
    return np.abs(patch - BG).max() > 0


def _instances(kps, cats, boxes=None):
    kps = np.asarray(kps, np.float64)
    n = len(kps)
    return Instances(kps, np.zeros((n, 4)) if boxes is None else np.asarray(boxes, np.float64),
                     np.asarray(cats, np.int64), np.ones(n), np.zeros(n, bool), np.arange(n))


def test_draws_where_keypoints_are_and_nowhere_far():
    img = _blank()
    inst = _instances([[[60, 60, 2], [240, 60, 2], [150, 240, 0]]], [1])
    out = draw_instances(img, inst, {1: TRI}, style=STYLE)
    assert _changed(out, 60, 60) and _changed(out, 240, 60)
    assert _changed(out, 150, 60)  # on the a-b edge
    assert not _changed(out, 150, 240, r=6)  # v = 0: neither the point nor its edges
    assert not _changed(out, 105, 150, r=6)  # on the would-be a-c edge
    assert not _changed(out, 20, 280, r=10)
    assert np.all(img == BG)  # the input is left alone


def test_hidden_is_hollow_and_dashed_visible_is_filled_and_solid():
    img = _blank()
    inst = _instances([[[60, 60, 2], [240, 60, 2], [150, 240, 1]]], [1])
    out = draw_instances(img, inst, {1: TRI}, style=STYLE)
    assert tuple(out[60, 60]) == PALETTE[0]  # filled centre
    assert tuple(out[240, 150]) == (BG, BG, BG)  # hollow ring: its centre shows the background
    assert _changed(out, 150 + 8, 240, r=1)  # the ring itself

    def coverage(p, q):
        ts = np.linspace(0.1, 0.9, 200)
        pts = np.round(np.asarray(p) + ts[:, None] * (np.asarray(q) - np.asarray(p))).astype(int)
        return np.mean([np.any(out[y, x] != BG) for x, y in pts])

    assert coverage((60, 60), (240, 60)) == 1.0  # solid between two visible points
    dashed = coverage((240, 60), (150, 240))
    assert 0.3 < dashed < 0.9  # gaps along an edge to a hidden point


def test_categories_get_different_colours():
    schemas = {1: TRI, 5: KeypointSchema("other", ("a", "b", "c"), ((0, 1),))}
    inst = _instances([[[60, 60, 2], [0, 0, 0], [0, 0, 0]], [[220, 220, 2], [0, 0, 0], [0, 0, 0]]], [1, 5])
    out = draw_instances(_blank(), inst, schemas, style=STYLE)
    colors = category_colors(schemas)
    assert tuple(out[60, 60]) == colors[1] and tuple(out[220, 220]) == colors[5]
    assert colors[1] != colors[5]


def test_tracked_predictions_take_their_track_colour_and_id_label():
    kp = lambda x, y: np.array([[x, y, 0.9], [0, 0, 0.0], [0, 0, 0.0]])  # noqa: E731
    preds = [Prediction(0, 1, kp(60, 60), 0.9, track_id=3), Prediction(0, 1, kp(220, 220), 0.9, track_id=4),
             Prediction(0, 1, kp(60, 220), 0.9)]
    out = draw_predictions(_blank(), preds, {1: TRI}, style=STYLE, boxes=False, labels=False)
    assert tuple(out[60, 60]) == track_color(3) and tuple(out[220, 220]) == track_color(4)
    assert track_color(3) != track_color(4)
    assert tuple(out[220, 60]) == category_colors({1: TRI})[1]  # untracked: its category colour
    assert track_color(1) == PALETTE[0] and track_color(1 + len(PALETTE)) == PALETTE[0]
    labelled = draw_predictions(_blank(), preds[:1], {1: TRI}, style=STYLE, boxes=False)
    plain = draw_predictions(_blank(), [Prediction(0, 1, kp(60, 60), 0.9)], {1: TRI}, style=STYLE, boxes=False)
    assert (np.any(labelled != BG, -1).sum() > np.any(plain != BG, -1).sum())  # "tri #3 0.90" is longer


def test_left_and_right_are_shaded_apart():
    sides = keypoint_sides(COCO17)
    assert sides[COCO17.keypoints.index("left_wrist")] == LEFT
    assert sides[COCO17.keypoints.index("right_wrist")] == RIGHT
    assert sides[0] == 0  # nose
    base = PALETTE[0]
    assert len({shade(base, LEFT), shade(base, 0), shade(base, RIGHT)}) == 3
    unnamed = KeypointSchema("car", ("0", "1", "2"), flip_pairs=((2, 1),))  # first of a pair is left
    assert keypoint_sides(unnamed)[2] == LEFT and keypoint_sides(unnamed)[1] == RIGHT


def test_predictions_below_threshold_are_not_drawn():
    preds = [Prediction(1, 1, np.array([[60, 60, 0.9], [240, 60, 0.1], [150, 240, 0.8]]), 0.9),
             Prediction(1, 1, np.array([[60, 240, 0.9], [100, 240, 0.9], [80, 280, 0.9]]), 0.1)]
    out = draw_predictions(_blank(), preds, {1: TRI}, score_thr=0.3, labels=False, style=STYLE)
    assert _changed(out, 60, 60) and _changed(out, 150, 240)
    assert not _changed(out, 240, 60, r=6)  # low keypoint score
    assert not _changed(out, 100, 240, r=6)  # low instance score


def test_link_opacity_follows_probability():
    kp = np.array([[40, 60, 1.0], [260, 60, 1.0], [40, 240, 1.0], [260, 240, 1.0]])
    schema = KeypointSchema("four", ("a", "b", "c", "d"), ((0, 3),))
    links = np.array([[0, 1, 0.9], [2, 3, 0.2]])
    out = draw_predictions(_blank(), [Prediction(1, 1, kp, 1.0, links=links)], {1: schema},
                           labels=False, style=STYLE)
    strong = np.abs(out[60, 150].astype(int) - BG).sum()
    weak = np.abs(out[240, 150].astype(int) - BG).sum()
    assert strong > 2 * weak > 0
    assert not _changed(out, 150, 150, r=3)  # links replace the schema skeleton (a-d diagonal)


def test_off_image_and_negative_coordinates_do_not_crash():
    inst = _instances([[[-77, 40, 1], [-181, 338, 0], [10, 1e7, 2]]], [1])
    out = draw_skeletons(_blank(), inst.keypoints, [1], {1: TRI}, boxes=np.array([[-20, -20, 500, 40]]),
                         labels=["car"])
    assert out.shape == (300, 300, 3)


def test_unknown_category_is_drawn_grey_without_skeleton():
    inst = _instances([[[60, 60, 2], [240, 60, 2], [150, 240, 2]]], [9])
    out = draw_instances(_blank(), inst, {1: TRI}, style=STYLE)
    assert _changed(out, 60, 60) and not _changed(out, 150, 60, r=2)


def test_style_scales_with_image_size():
    small, large = Style.for_image(240, 320), Style.for_image(1080, 1920)
    assert large.thickness > small.thickness and large.radius > small.radius


def test_heatmap_overlay_colours_the_peak_at_the_right_place():
    img = _blank(64, 64)
    hm = np.zeros((2, 16, 16), np.float32)
    hm[1, 5, 9] = 1.0  # stride 4: cell (u=9, v=5) has its centre at x = 4·9 + 1.5, y = 4·5 + 1.5
    out = draw_heatmaps(img, hm)
    diff = np.abs(out.astype(int) - BG).sum(-1)
    y, x = np.unravel_index(diff.argmax(), diff.shape)
    assert abs(x - 37.5) <= 1 and abs(y - 21.5) <= 1
    assert diff[0, 0] == 0 and out.shape == img.shape
    logits = draw_heatmaps(img, hm * 20 - 10)  # not in [0, 1]: min-max scaled
    assert np.abs(logits.astype(int) - BG).sum(-1).argmax() == diff.argmax()
    with pytest.raises(ValueError):
        draw_heatmaps(img, np.zeros((1, 2, 3, 4)))


def test_side_by_side_keeps_panels_and_adds_a_title_band():
    a, b = _blank(100, 120), _blank(80, 60)
    out = side_by_side([("gt", a), ("pred", b)])
    assert out.shape[0] > 100 and out.shape[1] > 180


def test_image_without_instances_is_drawn_unchanged():
    from kpdet.structures import Instances
    from kpdet.viz.draw import draw_instances
    from kpdet.schema import COCO17

    img = np.full((32, 32, 3), 7, np.uint8)
    out = draw_instances(img, Instances.empty(17), {1: COCO17})
    assert np.array_equal(out, img)
