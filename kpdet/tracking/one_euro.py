"""The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) on keypoint coordinates.

A first-order low-pass filter whose cutoff rises with the speed of the signal: slow motion is
smoothed hard (jitter goes), fast motion passes with little lag. Per time step Te:

* smoothing factor  α(fc) = 1 / (1 + τ / Te),  τ = 1 / (2π·fc)            (paper Eq. 4)
* filtered speed    dx̂_i = α(d_cutoff)·(x_i − x̂_{i−1}) / Te + (1 − α(d_cutoff))·dx̂_{i−1}
* adaptive cutoff   fc = min_cutoff + β·|dx̂_i|                           (paper Eq. 5)
* output            x̂_i = α(fc)·x_i + (1 − α(fc))·x̂_{i−1}

Te is taken from the time stamps, so dropped frames and gaps in a track are handled. The speed
|dx̂| is the norm of a keypoint's 2-D velocity: x and y share one cutoff, so smoothing does not
depend on the direction of motion. Units: cutoffs in Hz, β in 1/pixel (seconds per pixel · Hz).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from kpdet.errors import ConfigError
from kpdet.structures import Prediction


def smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """α for a cutoff frequency (Hz) and a time step (s): paper Eq. 4."""
    r = 2 * np.pi * np.asarray(cutoff, np.float64) * dt
    return r / (r + 1)


class OneEuroFilter:
    """Filters a stream of point arrays ``(..., 2)``, vectorised over the leading dimensions.

    A point whose new value is not finite keeps its last estimate; a point seen for the first
    time starts at its value.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        if not min_cutoff > 0 or not d_cutoff > 0:
            raise ConfigError(f"One-Euro cutoffs must be > 0 Hz, got min_cutoff={min_cutoff}, d_cutoff={d_cutoff}")
        if not beta >= 0:
            raise ConfigError(f"One-Euro beta must be >= 0, got {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self._x: np.ndarray | None = None   # (..., 2) last estimate
        self._dx: np.ndarray | None = None  # (..., 2) last filtered velocity, pixels per second
        self._t: float | None = None

    def __call__(self, t: float, x: np.ndarray) -> np.ndarray:
        """The filtered value of ``x`` observed at time ``t`` (seconds, increasing)."""
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if dt < 0:
            raise ValueError(f"One-Euro filter: time went back from {self._t} to {t}")
        if dt == 0:
            return self._x.copy()
        seen = np.isfinite(x).all(-1, keepdims=True)  # (..., 1)
        fresh = seen & ~np.isfinite(self._x).all(-1, keepdims=True)
        a_d = smoothing_factor(self.d_cutoff, dt)
        dx = a_d * (x - self._x) / dt + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.linalg.norm(dx, axis=-1, keepdims=True)  # (..., 1)
        a = smoothing_factor(cutoff, dt)
        xh = a * x + (1 - a) * self._x
        self._x = np.where(fresh, x, np.where(seen, xh, self._x))
        self._dx = np.where(fresh | ~seen, np.where(seen, 0.0, self._dx), dx)
        self._t = float(t)
        return self._x.copy()


class TrackSmoother:
    """One :class:`OneEuroFilter` per track id on the keypoint coordinates of tracked predictions.

    Predictions without a ``track_id`` pass through unchanged; filters of tracks not seen for
    ``forget_s`` seconds are dropped (a track id is never reused by kpdet.tracking.Tracker).
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0, forget_s: float = 10.0):
        OneEuroFilter(min_cutoff, beta, d_cutoff)  # validates the parameters now
        self.params = (min_cutoff, beta, d_cutoff)
        self.forget_s = forget_s
        self._filters: dict[int, OneEuroFilter] = {}
        self._seen: dict[int, float] = {}

    def __call__(self, t: float, predictions: Iterable[Prediction]) -> list[Prediction]:
        out = []
        for p in predictions:
            if p.track_id is None:
                out.append(p)
                continue
            f = self._filters.setdefault(p.track_id, OneEuroFilter(*self.params))
            kp = np.array(p.keypoints, np.float64)  # (K, 3) x, y, score
            kp[:, :2] = f(t, kp[:, :2])
            self._seen[p.track_id] = t
            out.append(Prediction(p.image_id, p.category_id, kp, p.score, p.bbox, p.links, p.track_id))
        for tid in [i for i, s in self._seen.items() if t - s > self.forget_s]:
            del self._filters[tid], self._seen[tid]
        return out
