"""Instance tracking across video frames: Hungarian matching of predictions to tracks.

Each frame, every live track is moved to the frame by its constant-velocity estimate, and the
frame's predictions of the same category are matched to the tracks by maximum total similarity
(``scipy.optimize.linear_sum_assignment``); a pair counts only when its similarity reaches
``min_similarity``. Similarity is OKS (COCO's keypoint similarity, with the schema's sigmas and
the track's box area as the scale) or box IoU.

Matching runs in two rounds, as ByteTrack (Zhang et al., ECCV 2022, Sec. 3) does: predictions
scoring at least ``birth_score`` are matched first; the tracks still unmatched then get a
chance at the predictions scoring between ``keep_score`` and ``birth_score`` (an occluded,
low-confidence instance keeps its identity). Only confident predictions left unmatched start
new tracks; a track unmatched for more than ``max_lost`` frames ends. Track ids start at 1 and
are never reused. Predictions that neither match nor start a track get ``track_id = None``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from kpdet.errors import ConfigError
from kpdet.eval.oks import oks_matrix
from kpdet.schema import DEFAULT_SIGMA, KeypointSchema
from kpdet.structures import Prediction

_VELOCITY_MOMENTUM = 0.5  # weight of the newest frame-to-frame displacement in the velocity estimate


@dataclass
class Track:
    id: int
    category_id: int
    keypoints: np.ndarray  # (K, 3) x, y, score at the last match
    box: np.ndarray        # (4,) COCO xywh at the last match
    frame: int             # index of the last matched frame
    kp_velocity: np.ndarray   # (K, 2) pixels per frame
    box_velocity: np.ndarray  # (4,) per frame
    hits: int = 1

    def predicted(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """(keypoints (K, 3), box (4,)) extrapolated to ``frame``."""
        gap = frame - self.frame
        kp = self.keypoints.copy()
        kp[:, :2] += self.kp_velocity * gap
        box = self.box + self.box_velocity * gap
        box[2:] = np.maximum(box[2:], 1e-3)
        return kp, box


def prediction_box(p: Prediction) -> np.ndarray:
    """The prediction's box, or the extent of its finite keypoints when it has none."""
    if p.bbox is not None:
        return np.asarray(p.bbox, np.float64).reshape(4)
    xy = np.asarray(p.keypoints, np.float64)[:, :2]
    xy = xy[np.isfinite(xy).all(1)]
    if not len(xy):
        return np.zeros(4)
    lo, hi = xy.min(0), xy.max(0)
    return np.array([lo[0], lo[1], max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) IoU of COCO xywh boxes a (A, 4) and b (B, 4)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    union = a[:, None, 2:].prod(-1) + b[None, :, 2:].prod(-1) - inter
    return inter / np.maximum(union, 1e-9)


class Tracker:
    """Assigns ``track_id`` to the predictions of consecutive frames (see the module docstring).

    ``schemas`` ({category_id: KeypointSchema}) give the OKS sigmas; ``keypoint_thr`` is the score
    from which a track's keypoint takes part in OKS.
    """

    def __init__(self, schemas: Mapping[int, KeypointSchema], *, similarity: Literal["oks", "iou"] = "oks",
                 min_similarity: float = 0.3, birth_score: float = 0.3, keep_score: float = 0.1,
                 max_lost: int = 30, keypoint_thr: float = 0.3):
        if similarity not in ("oks", "iou"):
            raise ConfigError(f"tracking similarity must be 'oks' or 'iou', got {similarity!r}")
        if not 0 < min_similarity <= 1:
            raise ConfigError(f"tracking min_similarity must be in (0, 1], got {min_similarity}")
        if max_lost < 0:
            raise ConfigError(f"tracking max_lost must be >= 0 frames, got {max_lost}")
        self.sigmas = {int(c): s.sigma_array(warn=False) for c, s in schemas.items()}
        self.similarity, self.min_similarity = similarity, float(min_similarity)
        self.birth_score, self.keep_score = float(birth_score), min(float(keep_score), float(birth_score))
        self.max_lost, self.keypoint_thr = int(max_lost), float(keypoint_thr)
        self.tracks: list[Track] = []
        self._next_id = 1
        self._frame: int | None = None

    @property
    def started(self) -> int:
        """How many tracks have started so far."""
        return self._next_id - 1

    def update(self, frame: int, predictions: Sequence[Prediction]) -> list[Prediction]:
        """The predictions of ``frame`` (increasing indices; gaps allowed) with their ``track_id``."""
        if self._frame is not None and frame <= self._frame:
            raise ValueError(f"tracker: frame {frame} after frame {self._frame} (frames must increase)")
        self._frame = frame
        ids: list[int | None] = [None] * len(predictions)
        scores = np.array([p.score for p in predictions], np.float64)
        free_tracks = list(range(len(self.tracks)))
        for lo, hi in ((self.birth_score, np.inf), (self.keep_score, self.birth_score)):
            dets = [i for i in range(len(predictions)) if lo <= scores[i] < hi]
            for d, t in self._match(frame, predictions, dets, free_tracks):
                self._advance(self.tracks[t], predictions[d], frame)
                ids[d] = self.tracks[t].id
                free_tracks.remove(t)
        for d, p in enumerate(predictions):
            if ids[d] is None and p.score >= self.birth_score:
                ids[d] = self._birth(p, frame)
        self.tracks = [t for t in self.tracks if frame - t.frame <= self.max_lost]
        return [replace(p, track_id=i) for p, i in zip(predictions, ids)]

    def _match(self, frame: int, predictions: Sequence[Prediction], dets: list[int],
               tracks: list[int]) -> list[tuple[int, int]]:
        """(prediction index, track index) pairs, matched per category."""
        pairs = []
        for cat in {predictions[d].category_id for d in dets}:
            ds = [d for d in dets if predictions[d].category_id == cat]
            ts = [t for t in tracks if self.tracks[t].category_id == cat]
            if not ts:
                continue
            sim = self._similarity(frame, [predictions[d] for d in ds], [self.tracks[t] for t in ts])  # (D, T)
            rows, cols = linear_sum_assignment(np.where(sim >= self.min_similarity, sim, 0.0), maximize=True)
            pairs += [(ds[r], ts[c]) for r, c in zip(rows, cols) if sim[r, c] >= self.min_similarity]
        return pairs

    def _similarity(self, frame: int, preds: list[Prediction], tracks: list[Track]) -> np.ndarray:
        moved = [t.predicted(frame) for t in tracks]
        boxes = np.stack([b for _, b in moved])  # (T, 4)
        if self.similarity == "iou":
            return box_iou(np.stack([prediction_box(p) for p in preds]), boxes)
        kps = np.stack([k for k, _ in moved])  # (T, K, 3)
        confident = kps[:, :, 2] >= self.keypoint_thr
        confident |= ~confident.any(1, keepdims=True)  # no confident keypoint: compare them all
        truth = np.concatenate([kps[:, :, :2], confident[..., None].astype(np.float64)], -1)
        dt = np.stack([np.asarray(p.keypoints, np.float64)[:, :2] for p in preds])  # (D, K, 2)
        sim = oks_matrix(np.nan_to_num(dt, nan=1e9), truth, boxes, boxes[:, 2] * boxes[:, 3],
                         self.sigmas.get(preds[0].category_id, np.full(dt.shape[1], DEFAULT_SIGMA)))
        return np.nan_to_num(sim)

    def _advance(self, track: Track, p: Prediction, frame: int) -> None:
        gap = frame - track.frame
        kp, box = np.asarray(p.keypoints, np.float64), prediction_box(p)
        m = _VELOCITY_MOMENTUM
        track.kp_velocity = m * np.nan_to_num((kp[:, :2] - track.keypoints[:, :2]) / gap) + (1 - m) * track.kp_velocity
        track.box_velocity = m * (box - track.box) / gap + (1 - m) * track.box_velocity
        track.keypoints, track.box, track.frame, track.hits = kp.copy(), box, frame, track.hits + 1

    def _birth(self, p: Prediction, frame: int) -> int:
        kp = np.asarray(p.keypoints, np.float64).copy()
        self.tracks.append(Track(self._next_id, p.category_id, kp, prediction_box(p), frame,
                                 np.zeros((len(kp), 2)), np.zeros(4)))
        self._next_id += 1
        return self._next_id - 1
