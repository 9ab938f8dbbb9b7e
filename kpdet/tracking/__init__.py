"""Video post-processing: instance tracking across frames and temporal smoothing of keypoints.

NumPy/SciPy only (no torch): usable on predictions read back from ``frames.jsonl``.
"""

from kpdet.tracking.one_euro import OneEuroFilter, TrackSmoother
from kpdet.tracking.tracker import Tracker

__all__ = ["OneEuroFilter", "TrackSmoother", "Tracker"]
