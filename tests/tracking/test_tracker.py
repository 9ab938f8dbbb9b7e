import numpy as np
import pytest

from kpdet.errors import ConfigError
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction
from kpdet.tracking import Tracker
from kpdet.tracking.tracker import box_iou, prediction_box

STICK = KeypointSchema("stick", ("head", "hip", "foot"), skeleton=((0, 1), (1, 2)), sigmas=(0.08, 0.1, 0.09))
BALL = KeypointSchema("ball", ("top", "bottom"), sigmas=(0.1, 0.1))
SCHEMAS = {1: STICK, 2: BALL}


def _stick(frame, x, y=50.0, score=0.9, cat=1, noise=None):
    kp = np.array([[x, y - 20, 0.9], [x, y, 0.9], [x + 3, y + 20, 0.9]])
    if noise is not None:
        kp[:, :2] += noise
    if cat == 2:
        kp = kp[:2]
    lo, hi = kp[:, :2].min(0) - 5, kp[:, :2].max(0) + 5
    return Prediction(frame, cat, kp, score, np.r_[lo, hi - lo])


def _ids(preds):
    return [p.track_id for p in preds]


@pytest.mark.parametrize("similarity", ["oks", "iou"])
def test_two_crossing_instances_keep_their_ids(similarity):
    """A walks right, B walks left on the same line; they overlap completely mid-way. The
    detections come in a shuffled order with a little jitter; ids must follow the motion."""
    rng = np.random.default_rng(1)
    tracker = Tracker(SCHEMAS, similarity=similarity)
    seen = {}
    for f in range(40):
        a = _stick(f, 10 + 4 * f, noise=rng.normal(0, 0.5, (3, 2)))
        b = _stick(f, 166 - 4 * f, noise=rng.normal(0, 0.5, (3, 2)))
        order = rng.permutation(2)
        out = tracker.update(f, [(a, b)[i] for i in order])
        for i, p in zip(order, out):
            seen.setdefault("AB"[i], set()).add(p.track_id)
            assert p.image_id == f and p.keypoints is not None
    assert seen == {"A": {1}, "B": {2}} or seen == {"A": {2}, "B": {1}}


def test_tracks_start_end_and_ids_are_not_reused():
    tracker = Tracker(SCHEMAS, max_lost=3)
    assert _ids(tracker.update(0, [_stick(0, 20)])) == [1]
    assert _ids(tracker.update(1, [_stick(1, 21), _stick(1, 120)])) == [1, 2]  # a birth
    assert _ids(tracker.update(2, [_stick(2, 121)])) == [2]  # track 1 lost, not ended
    assert _ids(tracker.update(5, [_stick(5, 22), _stick(5, 122)])) == [1, 2]  # back after 4 frames (<= 3 missed)
    assert _ids(tracker.update(6, [_stick(6, 123)])) == [2]
    assert [t.id for t in tracker.tracks] == [1, 2]
    assert _ids(tracker.update(10, [_stick(10, 124)])) == [2]  # track 1 missed frames 6..9: ended
    assert [t.id for t in tracker.tracks] == [2]
    assert _ids(tracker.update(11, [_stick(11, 22), _stick(11, 125)])) == [3, 2]  # a new id, never 1 again


def test_low_scores_continue_tracks_but_never_start_them():
    tracker = Tracker(SCHEMAS, birth_score=0.5, keep_score=0.1)
    assert _ids(tracker.update(0, [_stick(0, 20), _stick(0, 120, score=0.3)])) == [1, None]
    assert _ids(tracker.update(1, [_stick(1, 21, score=0.2), _stick(1, 121, score=0.05)])) == [1, None]
    assert _ids(tracker.update(2, [_stick(2, 22, score=0.6)])) == [1]


def test_categories_never_share_a_track_and_far_jumps_start_new_tracks():
    tracker = Tracker(SCHEMAS)
    assert _ids(tracker.update(0, [_stick(0, 20), _stick(0, 20, cat=2)])) == [1, 2]
    assert _ids(tracker.update(1, [_stick(1, 21, cat=2), _stick(1, 21)])) == [2, 1]
    assert _ids(tracker.update(2, [_stick(2, 300)])) == [3]  # OKS ~ 0 with track 1: not the same person


def test_predictions_without_boxes_use_their_keypoints():
    p = Prediction(0, 1, np.array([[1.0, 2.0, 1.0], [11.0, 32.0, 1.0], [np.nan, 0.0, 0.0]]), 0.9)
    assert prediction_box(p).tolist() == [1.0, 2.0, 10.0, 30.0]
    tracker = Tracker(SCHEMAS, similarity="iou")
    assert _ids(tracker.update(0, [p])) == [1]
    assert _ids(tracker.update(1, [p])) == [1]


def test_box_iou():
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 10.0, 10.0], [20.0, 20.0, 1.0, 1.0]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])


def test_bad_settings_and_frame_order():
    with pytest.raises(ConfigError, match="'oks' or 'iou'"):
        Tracker(SCHEMAS, similarity="giou")
    with pytest.raises(ConfigError, match="max_lost"):
        Tracker(SCHEMAS, max_lost=-1)
    tracker = Tracker(SCHEMAS)
    tracker.update(3, [])
    with pytest.raises(ValueError, match="frames must increase"):
        tracker.update(3, [])


def test_track_ids_round_trip_through_the_coco_results_format():
    tracked = Tracker(SCHEMAS).update(0, [_stick(0, 20)])[0]
    d = tracked.to_coco()
    assert d["track_id"] == 1 and Prediction.from_coco(d).track_id == 1
    assert "track_id" not in _stick(0, 20).to_coco() and Prediction.from_coco(_stick(0, 20).to_coco()).track_id is None
