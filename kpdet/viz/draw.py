"""Skeleton, box, link and heatmap overlays on RGB images (OpenCV + NumPy, no torch).

How a picture reads
-------------------
* One colour per category (:data:`PALETTE`, in the order of the sorted category ids), so
  the ground truth and the prediction panels of an image agree. Within a category the
  left side is drawn in a lighter tint and the right side in a darker shade of that colour,
  so a left/right swap is visible at a glance; centre edges keep the base colour.
* Ground truth: v = 2 (visible) is a filled dot, v = 1 (labelled but hidden) a hollow ring
  and every edge touching it is dashed; v = 0 is not drawn, nor are its edges.
* Tracked predictions (``Prediction.track_id``, from kpdet.tracking) take one colour per
  track instead (:func:`track_color`), so an identity can be followed across video frames,
  and their label carries ``#id``.
* Predictions: the third column is a score; keypoints below ``score_thr`` are not drawn,
  nor are instances whose score is below it. Predicted links (``Prediction.links``) replace
  the schema's skeleton and are drawn with an opacity equal to their probability.
* Every line and dot has a thin dark outline so it stays readable on bright and dark
  backgrounds; widths and radii scale with the image size (:class:`Style`).

All functions take and return ``(H, W, 3) uint8 RGB`` images and never modify their input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import cv2
import numpy as np

from kpdet.schema import KeypointSchema
from kpdet.structures import Instances, Prediction

RGB = tuple[int, int, int]

# Saturated, mutually distinct hues that stay readable over photographs.
PALETTE: tuple[RGB, ...] = (
    (255, 140, 0),    # orange
    (30, 144, 255),   # azure
    (60, 210, 60),    # green
    (240, 50, 200),   # magenta
    (255, 220, 0),    # yellow
    (235, 40, 50),    # red
    (150, 110, 255),  # violet
    (0, 215, 215),    # cyan
    (215, 160, 100),  # tan
    (255, 140, 180),  # pink
)
UNKNOWN_COLOR: RGB = (190, 190, 190)  # a category the schemas do not know
OUTLINE: RGB = (15, 15, 15)
_SHIFT = 4  # cv2 fixed-point bits: sub-pixel positions (pixel centre at integer x, as structures.py)
_ONE = 1 << _SHIFT
LEFT, CENTRE, RIGHT = -1, 0, 1


@dataclass(frozen=True)
class Style:
    """Line thickness, dot radius and font scale in pixels for one image size."""

    thickness: int
    radius: int
    font_scale: float

    @staticmethod
    def for_image(height: int, width: int, scale: float = 1.0) -> "Style":
        base = max(height, width) * scale
        return Style(thickness=max(1, round(base / 360)), radius=max(2, round(base / 240)),
                     font_scale=max(0.4, base / 1600))

    def for_object(self, diagonal: float) -> tuple[int, int]:
        """(thickness, radius) no larger than a small object (box diagonal in pixels) can carry."""
        return (int(np.clip(round(diagonal / 90), 1, self.thickness)),
                int(np.clip(round(diagonal / 40), 2, self.radius)))


def category_colors(category_ids: Sequence[int] | Mapping[int, object]) -> dict[int, RGB]:
    """{category id: colour}, assigned in sorted-id order so every picture of a dataset agrees."""
    return {int(c): PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(int(c) for c in category_ids))}


def track_color(track_id: int) -> RGB:
    """The colour of a track: the palette in order of track ids (ids start at 1)."""
    return PALETTE[(int(track_id) - 1) % len(PALETTE)]


def keypoint_sides(schema: KeypointSchema) -> np.ndarray:
    """(K,) LEFT / CENTRE / RIGHT per keypoint, from the names and then the flip pairs."""
    sides = np.zeros(schema.num_keypoints, np.int64)
    for i, name in enumerate(schema.keypoints):
        low = name.lower()
        if low.startswith(("left", "l_")):
            sides[i] = LEFT
        elif low.startswith(("right", "r_")):
            sides[i] = RIGHT
    for a, b in schema.flip_pairs:
        if sides[a] == CENTRE and sides[b] == CENTRE:  # unnamed pair: the first one is "left"
            sides[a], sides[b] = LEFT, RIGHT
    return sides


def shade(color: RGB, side: int) -> RGB:
    """The left tint (mixed with white) / right shade (mixed with black) of a colour."""
    c = np.asarray(color, np.float64)
    if side == LEFT:
        c = c + 0.45 * (255 - c)
    elif side == RIGHT:
        c = 0.62 * c
    return tuple(int(round(v)) for v in c)  # type: ignore[return-value]


def _pt(xy: np.ndarray) -> tuple[int, int]:
    x, y = np.clip(np.asarray(xy, np.float64), -1e5, 1e5)
    return int(round(x * _ONE)), int(round(y * _ONE))


def _diagonal(points: np.ndarray, box: np.ndarray | None) -> float:
    """Size of an object for scaling its drawing: its box diagonal, else its points' extent."""
    d = 0.0 if box is None else float(np.hypot(box[2], box[3]))
    if len(points):
        d = max(d, float(np.hypot(*(points.max(0) - points.min(0)))))
    return d if d > 0 else 1e9


def _clip(img: np.ndarray, p: np.ndarray, q: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The part of segment p-q inside the image (plus a margin), or None."""
    h, w = img.shape[:2]
    a, b = np.clip(np.asarray(p, np.float64), -1e6, 1e6), np.clip(np.asarray(q, np.float64), -1e6, 1e6)
    lo, hi = np.array([-margin, -margin], np.float64), np.array([w + margin, h + margin], np.float64)
    d = b - a
    t0, t1 = 0.0, 1.0
    for k in range(2):  # Liang-Barsky
        if abs(d[k]) < 1e-12:
            if a[k] < lo[k] or a[k] > hi[k]:
                return None
            continue
        u, v = (lo[k] - a[k]) / d[k], (hi[k] - a[k]) / d[k]
        t0, t1 = max(t0, min(u, v)), min(t1, max(u, v))
    if t0 > t1:
        return None
    return a + t0 * d, a + t1 * d


def _line(img: np.ndarray, p: np.ndarray, q: np.ndarray, color: RGB, t: int, dashed: bool = False,
          trim: tuple[float, float] = (0.0, 0.0)) -> None:
    """A line with a dark outline; ``trim`` shortens it at either end (to stop at a hollow ring)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    length = float(np.hypot(*(q - p)))
    if length <= sum(trim):
        return
    u = (q - p) / length
    p, q = p + u * trim[0], q - u * trim[1]
    clipped = _clip(img, p, q, margin=4 * t + 4)
    if clipped is None:
        return
    p, q = clipped
    segments = [(p, q)]
    if dashed:
        length = float(np.hypot(*(q - p)))
        dash, gap = 3.0 * t + 4, 3.0 * t + 6  # the round caps of the outline eat t + 2 of each gap
        n = max(1, int(length // (dash + gap)) + 1)
        starts = np.arange(n) * (dash + gap)
        segments = [(p + (q - p) * s / max(length, 1e-9), p + (q - p) * min(s + dash, length) / max(length, 1e-9))
                    for s in starts if s < length]
    for a, b in segments:
        cv2.line(img, _pt(a), _pt(b), OUTLINE, t + 2, cv2.LINE_AA, _SHIFT)
    for a, b in segments:
        cv2.line(img, _pt(a), _pt(b), color, t, cv2.LINE_AA, _SHIFT)


def _dot(img: np.ndarray, p: np.ndarray, color: RGB, r: int, t: int, hollow: bool) -> None:
    if hollow:
        ring = max(1, t)
        cv2.circle(img, _pt(p), r * _ONE, OUTLINE, ring + 2, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, _pt(p), r * _ONE, color, ring, cv2.LINE_AA, _SHIFT)
    else:
        cv2.circle(img, _pt(p), (r + 1) * _ONE, OUTLINE, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(img, _pt(p), r * _ONE, color, -1, cv2.LINE_AA, _SHIFT)


def put_text(img: np.ndarray, text: str, org: tuple[float, float], color: RGB, font_scale: float) -> None:
    """Outlined text with its baseline-left corner at ``org`` (kept inside the image)."""
    t = max(1, round(font_scale * 2))
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, t)
    x = int(np.clip(org[0], 0, max(0, img.shape[1] - w - 1)))
    y = int(np.clip(org[1], h + 1, max(h + 1, img.shape[0] - 2)))
    # The outline is the same text shifted around, not a thicker stroke: OpenCV 5's fonts
    # widen their glyphs with the thickness, so a thick copy would not line up.
    for dx, dy in ((-1, -1), (-1, 1), (1, -1), (1, 1), (0, -1), (0, 1), (-1, 0), (1, 0)):
        cv2.putText(img, text, (x + dx, y + dy), cv2.FONT_HERSHEY_SIMPLEX, font_scale, OUTLINE, t, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, color, t, cv2.LINE_AA)


def tag(img: np.ndarray, text: str, org: tuple[float, float], color: RGB, font_scale: float) -> None:
    """A label on a filled tag of ``color`` whose bottom-left corner is at ``org``."""
    t = max(1, round(font_scale * 1.6))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, t)
    pad = max(2, h // 4)
    x = int(np.clip(org[0], 0, max(0, img.shape[1] - w - 2 * pad)))
    y = int(np.clip(org[1], h + 2 * pad, img.shape[0]))
    cv2.rectangle(img, (x, y - h - 2 * pad), (x + w + 2 * pad, y), color, -1)
    ink = (0, 0, 0) if 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 110 else (255, 255, 255)
    cv2.putText(img, text, (x + pad, y - pad), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink, t, cv2.LINE_AA)


def draw_skeletons(
    image: np.ndarray,
    keypoints: np.ndarray,
    category_ids: Sequence[int],
    schemas: Mapping[int, KeypointSchema],
    *,
    kind: str = "gt",
    boxes: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    links: Sequence[np.ndarray | None] | None = None,
    score_thr: float = 0.3,
    names: bool = False,
    colors: Mapping[int, RGB] | None = None,
    instance_colors: Sequence[RGB | None] | None = None,
    style: Style | None = None,
) -> np.ndarray:
    """Draw N skeletons; the low-level function behind :func:`draw_instances` / :func:`draw_predictions`.

    keypoints  # (N, K, 3) x, y and v (``kind="gt"``) or a score in [0, 1] (``kind="pred"``)
    boxes      # (N, 4) COCO xywh, or None for no boxes
    labels     # N strings written at each box's top-left corner (e.g. "car 0.91"), or None
    links      # N arrays (L, 3) i, j, probability (or None): drawn instead of the skeleton
    instance_colors  # N colours (or None: the category's) overriding ``colors`` per instance
    """
    if kind not in ("gt", "pred"):
        raise ValueError(f"kind must be 'gt' or 'pred', got {kind!r}")
    out = np.ascontiguousarray(image, np.uint8).copy()
    if len(category_ids) == 0:
        return out
    keypoints = np.asarray(keypoints, np.float64).reshape(len(category_ids), -1, 3)
    colors = dict(colors) if colors is not None else category_colors(schemas)
    st = style or Style.for_image(*out.shape[:2])

    def base_color(n: int) -> RGB:
        own = None if instance_colors is None else instance_colors[n]
        return own if own is not None else colors.get(int(category_ids[n]), UNKNOWN_COLOR)

    if kind == "gt":
        state = np.where(keypoints[..., 2] >= 2, 2, np.where(keypoints[..., 2] >= 1, 1, 0))
    else:
        state = np.where(keypoints[..., 2] >= score_thr, 2, 0)
    state &= np.isfinite(keypoints[..., :2]).all(-1) * 3
    sizes = [st.for_object(_diagonal(keypoints[n, state[n] > 0, :2], None if boxes is None else boxes[n]))
             for n in range(len(state))]

    # Links go underneath, one translucent layer per opacity level (0.1 steps).
    if links is not None:
        layers: dict[int, list[tuple[np.ndarray, np.ndarray, RGB]]] = {}
        for n, lk in enumerate(links):
            if lk is None:
                continue
            base = base_color(n)
            t = sizes[n][0]
            for i, j, p in np.asarray(lk, np.float64).reshape(-1, 3):
                i, j = int(i), int(j)
                level = int(round(float(np.clip(p, 0, 1)) * 10))
                if level == 0 or max(i, j) >= state.shape[1] or min(i, j) < 0 or not (state[n, i] and state[n, j]):
                    continue
                layers.setdefault(level, []).append((keypoints[n, i, :2], keypoints[n, j, :2], base, t))
        for level in sorted(layers):
            layer = out.copy()
            for p, q, c, lt in layers[level]:
                _line(layer, p, q, c, lt)
            cv2.addWeighted(layer, level / 10, out, 1 - level / 10, 0, dst=out)

    for n, cid in enumerate(category_ids):
        cid = int(cid)
        base = base_color(n)
        t, r = sizes[n]
        schema = schemas.get(cid)
        k = schema.num_keypoints if schema is not None else keypoints.shape[1]
        sides = keypoint_sides(schema) if schema is not None else np.zeros(k, np.int64)
        kp, s = keypoints[n, :k], state[n, :k]
        if boxes is not None:
            x, y, w, h = np.asarray(boxes[n], np.float64)
            bt = max(1, t // 2)
            cv2.rectangle(out, _pt((x, y)), _pt((x + w, y + h)), base, bt, cv2.LINE_AA, _SHIFT)
        edges = () if schema is None or (links is not None and links[n] is not None) else schema.skeleton
        for a, b in edges:
            if s[a] and s[b]:
                side = sides[a] if sides[a] == sides[b] else CENTRE
                _line(out, kp[a, :2], kp[b, :2], shade(base, side), t, dashed=bool(s[a] == 1 or s[b] == 1),
                      trim=(r if s[a] == 1 else 0.0, r if s[b] == 1 else 0.0))
        for i in np.flatnonzero(s):
            _dot(out, kp[i, :2], shade(base, int(sides[i])), r, t, hollow=bool(s[i] == 1))
        if names and schema is not None:
            for i in np.flatnonzero(s):
                put_text(out, schema.keypoints[i], (kp[i, 0] + r + 2, kp[i, 1] - r - 2),
                         shade(base, int(sides[i])), st.font_scale * 0.8)
        if labels is not None and labels[n]:
            if boxes is not None:
                org = (boxes[n][0] - max(1, t // 2), boxes[n][1])
            elif s.any():
                vis = kp[s > 0]
                org = (vis[:, 0].min(), vis[:, 1].min() - r - 3)
            else:
                continue
            tag(out, labels[n], org, base, st.font_scale)
    return out


def draw_instances(image: np.ndarray, instances: Instances, schemas: Mapping[int, KeypointSchema], *,
                   boxes: bool = False, labels: bool = False, **kwargs) -> np.ndarray:
    """Ground truth: filled visible points, hollow hidden points with dashed edges."""
    cats = [int(c) for c in instances.category_ids]
    text = [schemas[c].name if c in schemas else str(c) for c in cats] if labels else None
    return draw_skeletons(image, instances.keypoints, cats, schemas, kind="gt",
                          boxes=instances.boxes if boxes else None, labels=text, **kwargs)


def draw_predictions(image: np.ndarray, predictions: Sequence[Prediction], schemas: Mapping[int, KeypointSchema],
                     *, score_thr: float = 0.3, boxes: bool = True, labels: bool = True, links: bool = True,
                     **kwargs) -> np.ndarray:
    """Predictions with an instance score ≥ ``score_thr``; keypoints below it are left out.
    Tracked predictions are coloured by track (:func:`track_color`)."""
    keep = [p for p in predictions if p.score >= score_thr]
    kmax = max((len(p.keypoints) for p in keep), default=0)
    kps = np.zeros((len(keep), kmax, 3), np.float64)
    for n, p in enumerate(keep):
        kps[n, : len(p.keypoints)] = p.keypoints
    has_box = boxes and keep and all(p.bbox is not None for p in keep)
    text = None
    if labels:
        text = [f"{schemas[p.category_id].name if p.category_id in schemas else p.category_id}"
                f"{'' if p.track_id is None else f' #{p.track_id}'} {p.score:.2f}" for p in keep]
    if any(p.track_id is not None for p in keep):
        kwargs.setdefault("instance_colors", [None if p.track_id is None else track_color(p.track_id) for p in keep])
    return draw_skeletons(
        image, kps, [p.category_id for p in keep], schemas, kind="pred", score_thr=score_thr,
        boxes=np.stack([p.bbox for p in keep]) if has_box else None, labels=text,
        links=[p.links for p in keep] if links and any(p.links is not None for p in keep) else None, **kwargs)


def side_by_side(panels: Sequence[tuple[str, np.ndarray]], *, gap: int | None = None) -> np.ndarray:
    """Panels left to right, each under a title band; heights padded to the tallest."""
    h = max(img.shape[0] for _, img in panels)
    st = Style.for_image(h, max(img.shape[1] for _, img in panels))
    band = int(round(max(0.5, st.font_scale * 1.1) * 36)) + 8
    gap = max(4, st.thickness * 2) if gap is None else gap
    cols = []
    for title, img in panels:
        col = np.full((h + band, img.shape[1], 3), 32, np.uint8)
        col[band: band + img.shape[0]] = img
        put_text(col, title, (8, band - band // 4), (240, 240, 240), max(0.5, st.font_scale * 1.1))
        cols.append(col)
        cols.append(np.full((h + band, gap, 3), 32, np.uint8))
    return np.concatenate(cols[:-1], axis=1)


def draw_heatmaps(image: np.ndarray, heatmaps: np.ndarray, *, alpha: float = 0.65,
                  colormap: int = cv2.COLORMAP_TURBO) -> np.ndarray:
    """Overlay the maximum over K heatmaps on the image ("what the model sees").

    heatmaps  # (K, h, w) or (h, w); values in [0, 1] are used as they are, anything else
              # (logits, unnormalised scores) is min-max scaled. The map is resized with
              # pixel centres aligned (cv2.resize), the convention of structures.py.
    The colour is blended in proportionally to the response, so a cold map leaves the image
    as it is and peaks dominate.
    """
    img = np.ascontiguousarray(image, np.uint8)
    hm = np.asarray(heatmaps, np.float32)
    if hm.ndim == 2:
        hm = hm[None]
    if hm.ndim != 3:
        raise ValueError(f"heatmaps must be (K, h, w) or (h, w), got shape {hm.shape}")
    m = np.nan_to_num(hm.max(0), nan=0.0) if hm.shape[0] else np.zeros(hm.shape[1:], np.float32)
    lo, hi = float(m.min()), float(m.max())
    if lo < 0 or hi > 1:
        m = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    m = cv2.resize(m, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    m = np.clip(m, 0, 1)
    col = cv2.cvtColor(cv2.applyColorMap((m * 255).astype(np.uint8), colormap), cv2.COLOR_BGR2RGB)
    w = (alpha * np.sqrt(m))[..., None]
    return np.clip(img * (1 - w) + col * w + 0.5, 0, 255).astype(np.uint8)
