"""SLEAP labels (``.slp``, ``.pkg.slp``; HDF5) → COCO keypoints, with the frames as image files.

Read with h5py directly (already a kpdet dependency; sleap-io would add attrs, imageio and
more for what is five HDF5 tables and a JSON header). Layout: ``frames`` (video, frame_idx,
instance range), ``instances`` (type 0 user / 1 predicted, track, point range), ``points`` /
``pred_points`` (x, y, visible), ``metadata`` attribute ``json`` (nodes, skeletons),
``videos_json``, ``tracks_json``; a package embeds its frames as encoded images in
``videoN/video`` with ``videoN/frame_numbers``.

* Only user-labelled instances are imported unless ``options.predicted``; then predictions are
  added too (marked ``"predicted": true`` with their ``score``), except those a user instance
  was corrected from (``from_predicted``), which would duplicate it.
* A point with NaN coordinates or ``visible = False`` is v = 0 (SLEAP trains on such nodes as
  missing; their stored coordinates are placeholders); every other point is v = 2.
* Coordinates: file format ≥ 1.1 already puts pixel centres at integers like kpdet; older files
  put the pixel corner there and are shifted by −0.5 (as SLEAP itself does when reading them).
* A frame with no imported instance is left out. Tracks are kept as ``track_id`` (index into
  ``info.tracks``). Skeleton edges → ``skeleton``, symmetries → ``flip_pairs``; a skeleton
  without symmetries gets pairs from its node names (left_/right_ prefixes, L/R suffixes).
* Frames are decoded with OpenCV in order (seeking is not frame-exact in h264) and written as
  ``<images>/video<i>_<video stem>/<frame_idx>.png``; embedded frames are written as stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.data.importers.builder import CocoBuilder, ImageStore
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError
from kpdet.schema import infer_flip_pairs

_USER, _PREDICTED = 0, 1
_EDGE_BODY, _EDGE_SYMMETRY = 1, 2


@dataclass
class SlpFrame:
    video: int
    frame_idx: int
    instances: list[tuple[int, np.ndarray, dict[str, Any]]]  # (skeleton index, keypoints (K, 3), extra)


@dataclass
class SlpLabels:
    skeletons: list[tuple[str, list[str], list, list]]  # (name, node names, edges, flip pairs) 0-based
    videos: list[dict[str, Any]]
    tracks: list[str]
    frames: list[SlpFrame]  # only frames with at least one imported instance


def read_slp(src: Path, predicted: bool = False) -> SlpLabels:
    """The labels of a .slp / .pkg.slp file (no pixels are read)."""
    import h5py

    if not src.is_file():
        raise DataError(str(src), "file not found")
    try:
        h5 = h5py.File(src, "r")
    except OSError as e:
        raise DataError(str(src), f"not a SLEAP .slp (HDF5) file: {e}") from None
    with h5:
        for key in ("frames", "instances", "points", "metadata", "videos_json"):
            if key not in h5:
                raise DataError(str(src), f"missing the HDF5 entry '{key}' of a SLEAP labels file")
        meta = _json(src, h5["metadata"].attrs.get("json"), "metadata")
        format_id = float(h5["metadata"].attrs.get("format_id", 1.0))
        offset = -0.5 if format_id < 1.1 else 0.0
        skeletons = [_skeleton(src, meta, i) for i in range(len(meta.get("skeletons") or []))]
        if not skeletons:
            raise DataError(str(src), "no skeleton in the metadata", field="skeletons")
        videos = [_json(src, v, f"videos_json[{i}]") for i, v in enumerate(h5["videos_json"][:])]
        tracks = [_track_name(src, t, i) for i, t in enumerate(h5["tracks_json"][:])] if "tracks_json" in h5 else []
        frames, instances, points = h5["frames"][:], h5["instances"][:], h5["points"][:]
        pred_points = h5["pred_points"][:] if "pred_points" in h5 else None

    per_frame = _select_instances(src, instances, predicted)
    out = []
    for row in frames:
        rec = f"frame_id {int(row['frame_id'])}"
        vid = int(row["video"])
        if not 0 <= vid < len(videos):
            raise DataError(str(src), f"frame refers to video {vid}, the file lists {len(videos)}", record=rec)
        kept = [_instance(src, skeletons, inst, points, pred_points, offset, tracks)
                for inst in per_frame.get(int(row["frame_id"]), [])]
        kept = [k for k in kept if k is not None]
        if kept:
            out.append(SlpFrame(vid, int(row["frame_idx"]), kept))
    return SlpLabels(skeletons, videos, tracks, out)


def import_sleap(src: Path, store: ImageStore, options: ImportOptions) -> CocoBuilder:
    labels = read_slp(src, options.predicted)
    builder = CocoBuilder(info={"description": f"imported from SLEAP {src}", "tracks": labels.tracks})
    cat_ids = [builder.add_category(*s) for s in labels.skeletons]
    frames = labels.frames
    if options.frames is not None:
        lo, hi = options.frames.start or 0, options.frames.stop
        frames = [f for f in frames if lo <= f.frame_idx and (hi is None or f.frame_idx < hi)]
    for vid in sorted({f.video for f in frames}):
        wanted = sorted((f for f in frames if f.video == vid), key=lambda f: f.frame_idx)
        for frame, file_name, (w, h) in _images(src, labels.videos[vid], vid, wanted, store, options):
            image_id = builder.add_image(file_name, w, h, video=vid, frame_idx=frame.frame_idx)
            for sk, kps, extra in frame.instances:
                builder.add_instance(image_id, cat_ids[sk], kps, **extra)
    return builder


def _json(src: Path, raw: Any, what: str) -> Any:
    if raw is None:
        raise DataError(str(src), "missing", field=what)
    try:
        return json.loads(raw.decode() if isinstance(raw, (bytes, np.bytes_)) else raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(str(src), f"not valid JSON: {e}", field=what) from None


def _track_name(src: Path, raw: Any, i: int) -> str:
    t = _json(src, raw, f"tracks_json[{i}]")
    return str(t[1]) if isinstance(t, list) and len(t) > 1 else str(t)


def _skeleton(src: Path, meta: dict[str, Any], i: int) -> tuple[str, list[str], list, list]:
    """(name, node names in the skeleton's order, 0-based edges, 0-based symmetry pairs)."""
    rec = f"skeleton {i}"
    names = [n.get("name") for n in meta.get("nodes") or []]
    skel = meta["skeletons"][i]
    ids = [n.get("id") if isinstance(n, dict) else n for n in skel.get("nodes") or []]
    if not ids or not all(isinstance(x, int) and 0 <= x < len(names) for x in ids):
        raise DataError(str(src), f"expected node ids indexing the {len(names)} metadata nodes, got {ids}",
                        record=rec, field="nodes")
    slot = {node: k for k, node in enumerate(ids)}
    # links carry their edge type as a jsonpickle object: written out once ("py/reduce"),
    # then referred to by its order of appearance ("py/id": n)
    seen: list[int] = []
    edges, symmetries = [], set()
    for link in skel.get("links") or []:
        t = link.get("type") or {}
        if "py/reduce" in t:
            kind = int(t["py/reduce"][1]["py/tuple"][0])
            seen.append(kind)
        elif "py/id" in t and 1 <= int(t["py/id"]) <= len(seen):
            kind = seen[int(t["py/id"]) - 1]
        else:
            raise DataError(str(src), f"cannot read the edge type {t}", record=rec, field="links")
        a, b = link.get("source"), link.get("target")
        if a not in slot or b not in slot:
            raise DataError(str(src), f"link {a}→{b} names a node not in the skeleton", record=rec, field="links")
        if kind == _EDGE_BODY:
            edges.append((slot[a], slot[b]))
        elif kind == _EDGE_SYMMETRY:
            symmetries.add(tuple(sorted((slot[a], slot[b]))))
    name = str((skel.get("graph") or {}).get("name") or f"skeleton{i}")
    node_names = [str(names[x]) for x in ids]
    return name, node_names, edges, sorted(symmetries) or _side_pairs(node_names)


# SLEAP users often name sides by a trailing L/R before an optional number (eyeL, forelegR4)
_SIDE_SUFFIX = re.compile(r"^(.+?)([LR])(\d*)$")


def _side_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Flip pairs for a skeleton that declares no symmetries: left_/right_ prefixes, or L/R suffixes."""
    pairs = set(infer_flip_pairs(tuple(names)))
    index = {n: i for i, n in enumerate(names)}
    for i, n in enumerate(names):
        m = _SIDE_SUFFIX.match(n)
        if m and m.group(2) == "L" and (j := index.get(f"{m.group(1)}R{m.group(3)}")) is not None:
            pairs.add((i, j))
    return sorted(pairs)


def _select_instances(src: Path, instances: np.ndarray, predicted: bool) -> dict[int, list[Any]]:
    corrected = {int(r["from_predicted"]) for r in instances
                 if int(r["instance_type"]) == _USER and int(r["from_predicted"]) >= 0}
    per_frame: dict[int, list[Any]] = {}
    for r in instances:
        kind = int(r["instance_type"])
        if kind not in (_USER, _PREDICTED):
            raise DataError(str(src), f"unknown instance_type {kind} (0 user, 1 predicted)",
                            record=f"instance {int(r['instance_id'])}")
        if kind == _PREDICTED and (not predicted or int(r["instance_id"]) in corrected):
            continue
        per_frame.setdefault(int(r["frame_id"]), []).append(r)
    return per_frame


def _instance(src: Path, skeletons: list, inst: Any, points: np.ndarray, pred_points: np.ndarray | None,
              offset: float, tracks: list[str]) -> tuple[int, np.ndarray, dict[str, Any]] | None:
    rec = f"instance {int(inst['instance_id'])}"
    sk = int(inst["skeleton"])
    if not 0 <= sk < len(skeletons):
        raise DataError(str(src), f"skeleton {sk} does not exist ({len(skeletons)} in the file)", record=rec)
    k = len(skeletons[sk][1])
    predicted = int(inst["instance_type"]) == _PREDICTED
    table = pred_points if predicted else points
    lo, hi = int(inst["point_id_start"]), int(inst["point_id_end"])
    if table is None or hi - lo != k or lo < 0 or hi > len(table):
        raise DataError(str(src), f"expected {k} points (skeleton {sk}) in rows {lo}:{hi} of "
                        f"{'pred_points' if predicted else 'points'}", record=rec)
    pts = table[lo:hi]
    xy = np.stack([pts["x"], pts["y"]], 1).astype(np.float64) + offset
    ok = np.isfinite(xy).all(1) & pts["visible"].astype(bool)
    if not ok.any():
        return None
    kps = np.zeros((k, 3))
    kps[ok, :2] = xy[ok]
    kps[ok, 2] = 2
    extra: dict[str, Any] = {}
    track = int(inst["track"])
    if 0 <= track < len(tracks):
        extra["track_id"] = track
    if predicted:
        extra.update(predicted=True, score=float(inst["score"]))
    return sk, kps, extra


def _images(src: Path, video: dict[str, Any], vid: int, frames: list[SlpFrame], store: ImageStore,
            options: ImportOptions):
    """Yield (frame, file_name, (w, h)) for ``frames`` (sorted by frame_idx) of one video."""
    backend = video.get("backend") or {}
    dataset = backend.get("dataset") or ""
    if dataset:
        import h5py

        with h5py.File(src, "r") as h5:
            yield from _embedded_frames(src, h5, dataset, vid, frames, store)
        return
    path = _find_video(src, str(backend.get("filename", "")))
    if path is None:
        raise DataError(str(src), f"video not found: {backend.get('filename')!r} (looked beside the .slp "
                        "and in its parent folders)", record=f"video {vid}")
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(str(path), "OpenCV cannot open this video")
    gray = bool(backend.get("grayscale"))
    prefix = f"video{vid}_{path.stem}"
    try:
        pos = 0
        for frame in frames:
            fidx = frame.frame_idx
            while pos < fidx:  # sequential decode: seeking is not frame-exact in h264
                if not cap.grab():
                    raise DataError(str(path), f"video ends at frame {pos}, label needs frame {fidx}")
                pos += 1
            ok, image = cap.read()
            pos += 1
            if not ok:
                raise DataError(str(path), f"could not decode frame {fidx}", record=f"frame_idx {fidx}")
            if gray and image.ndim == 3:
                image = image[:, :, 0]
            name = store.write_array(image, f"{prefix}/{fidx:06d}{options.image_ext}")
            yield frame, name, (image.shape[1], image.shape[0])
    finally:
        cap.release()


def _embedded_frames(src: Path, h5: Any, dataset: str, vid: int, frames: list[SlpFrame], store: ImageStore):
    from io import BytesIO

    from PIL import Image

    group = dataset.rsplit("/", 1)[0]
    if dataset not in h5 or f"{group}/frame_numbers" not in h5:
        raise DataError(str(src), f"missing embedded frames '{dataset}' or '{group}/frame_numbers'",
                        record=f"video {vid}")
    data = h5[dataset]
    fmt = str(data.attrs.get("format", "png"))
    row_of = {int(f): i for i, f in enumerate(h5[f"{group}/frame_numbers"][:])}
    for frame in frames:
        fidx = frame.frame_idx
        if fidx not in row_of:
            raise DataError(str(src), f"frame {fidx} is labelled but not embedded in '{dataset}'",
                            record=f"video {vid}")
        raw = data[row_of[fidx]]
        if data.ndim == 4 or fmt not in ("png", "jpg", "jpeg"):  # raw (N, H, W, C) array
            image = np.asarray(raw)  # (H, W, C) RGB or grey
            name = store.write_array(image[..., ::-1] if image.shape[-1] == 3 else image[..., 0],
                                     f"{group}/{fidx:06d}.png")
            yield frame, name, (image.shape[1], image.shape[0])
            continue
        blob = np.asarray(raw).tobytes()
        try:
            with Image.open(BytesIO(blob)) as im:
                size = (im.width, im.height)
        except OSError as e:
            raise DataError(str(src), f"embedded frame {fidx} is not a readable {fmt}: {e}",
                            record=f"video {vid}") from None
        yield frame, store.write_bytes(blob, f"{group}/{fidx:06d}.{fmt}"), size


def _find_video(src: Path, filename: str) -> Path | None:
    """The stored path as is, then beside the .slp, then its trailing parts under the .slp's parents."""
    if not filename:
        return None
    p = Path(filename.replace("\\", "/"))
    if p.is_absolute() and p.is_file():
        return p
    here = src.resolve().parent
    if (here / p).is_file():
        return here / p
    parts = p.parts
    for n in range(1, min(len(parts), 4) + 1):
        tail = Path(*parts[-n:])
        for base in (here, *list(here.parents)[:3]):
            if (base / tail).is_file():
                return base / tail
    return None
