import numpy as np
import pytest

from kpdet.errors import ConfigError
from kpdet.structures import Prediction
from kpdet.tracking import OneEuroFilter, TrackSmoother

FPS = 30.0


def _run(f, xs, fps=FPS):
    return np.stack([f(i / fps, x) for i, x in enumerate(xs)])


def _jitter(xs):
    """Variance of the second differences along time, over every coordinate."""
    return float(np.var(np.diff(xs, n=2, axis=0)))


def test_smooths_a_noisy_trajectory_of_many_keypoints():
    rng = np.random.default_rng(0)
    t = np.arange(300) / FPS
    phase = np.linspace(0, np.pi, 17)[None, :]  # (1, K)
    truth = np.stack([100 + 40 * np.sin(2 * np.pi * 0.2 * t[:, None] + phase),
                      80 + 30 * np.cos(2 * np.pi * 0.12 * t[:, None] + phase)], -1)  # (T, K, 2), up to 50 px/s
    noisy = truth + rng.normal(0, 2.0, truth.shape)
    out = _run(OneEuroFilter(min_cutoff=1.0, beta=0.05), noisy)
    assert out.shape == noisy.shape
    assert _jitter(out) < 0.25 * _jitter(noisy)
    rmse = lambda a: float(np.sqrt(np.mean((a[10:] - truth[10:]) ** 2)))  # noqa: E731
    assert rmse(out) < 0.85 * rmse(noisy)  # less jitter without trading it for lag


def _settle_frames(out, target, tol):
    """Frames after the step until the output stays within tol of the target."""
    err = np.abs(out - target).max(axis=(1, 2))
    far = np.flatnonzero(err > tol)
    return int(far[-1]) + 1 if len(far) else 0


def test_follows_a_step_with_bounded_lag_and_no_overshoot():
    xs = np.zeros((60, 1, 2))
    xs[20:] = [100.0, -50.0]
    adaptive = _run(OneEuroFilter(min_cutoff=1.0, beta=0.05), xs)[20:]
    plain = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), xs)[20:]  # a fixed 1 Hz low-pass
    lag = _settle_frames(adaptive, xs[20:], tol=5.0)
    assert 1 <= lag <= 4  # within 5 px of the step (112 px) in 4 frames at 30 fps
    assert _settle_frames(plain, xs[20:], tol=5.0) > 2 * lag  # the speed term is what cuts the lag
    assert (adaptive[:, 0, 0] <= 100 + 1e-9).all() and (np.diff(adaptive[:, 0, 0]) >= -1e-9).all()


def test_missing_points_keep_their_estimate_and_new_points_start_at_their_value():
    f = OneEuroFilter()
    f(0.0, np.array([[0.0, 0.0], [np.nan, np.nan]]))
    out = f(0.1, np.array([[np.nan, np.nan], [5.0, 6.0]]))
    assert out.tolist() == [[0.0, 0.0], [5.0, 6.0]]
    out = f(0.2, np.array([[10.0, 0.0], [5.0, 6.0]]))
    assert 0 < out[0, 0] < 10 and out[1].tolist() == [5.0, 6.0]
    assert f(0.2, np.array([[99.0, 0.0], [5.0, 6.0]])).tolist() == out.tolist()  # same time: no update
    with pytest.raises(ValueError, match="time went back"):
        f(0.1, out)


def test_time_steps_come_from_the_time_stamps():
    x0, x1 = np.zeros((1, 2)), np.full((1, 2), 10.0)
    near, far = OneEuroFilter(beta=0.0), OneEuroFilter(beta=0.0)
    near(0.0, x0), far(0.0, x0)
    assert near(1 / 30, x1)[0, 0] < far(1.0, x1)[0, 0]  # a longer gap trusts the new value more


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="cutoffs must be > 0"):
        OneEuroFilter(min_cutoff=0.0)
    with pytest.raises(ConfigError, match="beta must be >= 0"):
        TrackSmoother(beta=-1.0)


def test_track_smoother_filters_each_track_on_its_own():
    smoother = TrackSmoother(min_cutoff=1.0, beta=0.0)
    kp = lambda x: np.array([[x, 0.0, 0.9], [x + 1, 1.0, 0.8]])  # noqa: E731
    first = smoother(0.0, [Prediction(0, 1, kp(0.0), 0.9, track_id=1), Prediction(0, 1, kp(50.0), 0.9, track_id=2)])
    assert [p.keypoints[0, 0] for p in first] == [0.0, 50.0]
    second = smoother(1 / 30, [Prediction(1, 1, kp(50.0), 0.9, track_id=2),
                               Prediction(1, 1, kp(10.0), 0.9, track_id=1),
                               Prediction(1, 1, kp(7.0), 0.2)])
    assert second[0].keypoints[0, 0] == 50.0  # track 2 did not move
    assert 0 < second[1].keypoints[0, 0] < 10  # track 1 is smoothed from its own past, not track 2's
    assert second[2].keypoints[0, 0] == 7.0  # untracked: unchanged
    assert second[1].keypoints[:, 2].tolist() == [0.9, 0.8] and second[1].track_id == 1
