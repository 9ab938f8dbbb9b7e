"""`kpdet predict RUN --images PATH|DIR|VIDEO --out DIR`: keypoints on new images or a video.

Images (one file or the image files directly inside a folder, sorted by name) write::

    DIR/predictions.json   COCO results: [{image_id, category_id, keypoints, score, bbox, links?}, …]
    DIR/images.json        COCO file without annotations: the images (id, file_name relative to
                           image_root, width, height), image_root and the model's categories
    DIR/overlays/<file_name>   the drawn predictions (unless --no-draw)

A video (.mp4, .avi, .mov, .mkv, … anything OpenCV reads) writes::

    DIR/<name>_pred.mp4    the annotated video, mp4v, same frame rate and frame count (unless --no-draw)
    DIR/frames.jsonl       one line per frame: {"frame": i, "time_s": t, "predictions": [COCO results]}
                           with image_id = i, the 0-based frame index (and track_id with --track)
    DIR/video.json         source, fps, width, height, frames, categories, tracking, smoothing

Video options (kpdet/tracking, NumPy/SciPy only): ``--track`` gives every prediction a
``track_id`` that follows the instance across frames (Hungarian matching on OKS or box IoU;
drawn in one colour per track); ``--smooth one-euro`` filters each track's keypoint coordinates
with the One-Euro filter (``--min-cutoff`` Hz, ``--beta`` 1/px; it needs tracks, so it turns
``--track`` on). A progress bar shows frames per second.

Every prediction is kept in the JSON files (evaluation needs the low-scoring ones); ``--score-thr``
only decides what is drawn. ``--boxes`` is a COCO detections JSON whose image ids are those of
images.json (1-based, in file-name order) or, for a video, the 0-based frame index;
``--boxes-from RUN`` runs another run whose predictions carry boxes (trained on the same
keypoints) on the same images and uses its boxes and scores; without either a top-down model uses
one whole-image box per image (see kpdet/api.py).
"""

from __future__ import annotations

import argparse

HELP = "predict keypoints on an image, a folder of images or a video with a trained run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN",
                        help="run directory written by `kpdet train`, one of its .pt checkpoints, or a .onnx model "
                             "written by `kpdet export`")
    parser.add_argument("--images", metavar="PATH", required=True, help="an image, a folder of images or a video file")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument("--boxes", metavar="DET.json", help="detections (COCO results) for top-down methods")
    parser.add_argument("--boxes-from", metavar="RUN", help="boxes predicted by another run (one whose predictions "
                        "carry boxes, trained on the same keypoints) for top-down methods")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--score-thr", type=float, default=0.3,
                        help="instances and keypoints scoring below this are not drawn (JSON keeps all)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    parser.add_argument("--no-draw", action="store_true", help="write the JSON only (no overlays / video)")
    parser.add_argument("--device", metavar="cpu|cuda", help="default: cuda when available")
    video = parser.add_argument_group("video")
    video.add_argument("--track", action="store_true",
                       help="follow instances across frames: track_id in frames.jsonl, one colour per track")
    video.add_argument("--track-similarity", choices=("oks", "iou"), default="oks",
                       help="how a prediction is compared with a track (default: oks)")
    video.add_argument("--track-max-lost", type=int, default=30, metavar="FRAMES",
                       help="frames a track survives without a match (default: 30)")
    video.add_argument("--smooth", choices=("none", "one-euro"), default="none",
                       help="temporal smoothing of keypoints per track (implies --track; default: none)")
    video.add_argument("--min-cutoff", type=float, default=1.0, metavar="HZ",
                       help="One-Euro minimum cutoff: lower smooths slow motion more (default: 1.0)")
    video.add_argument("--beta", type=float, default=0.05,
                       help="One-Euro speed coefficient (1/px): higher lags less on fast motion (default: 0.05)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kpdet.api import load
    from kpdet.data.video import VIDEO_SUFFIXES, is_video
    from kpdet.errors import ConfigError, DataError

    src = Path(args.images)
    if not src.exists():
        raise DataError(str(src), "not found (expected an image, a folder of images or a video file)")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.boxes and args.boxes_from:
        raise ConfigError("--boxes and --boxes-from: give one of them")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    video = src.is_file() and is_video(src)
    if (args.track or args.smooth != "none") and not video:
        raise ConfigError(f"--track and --smooth apply to a video; {src} is not one "
                          f"(video suffixes: {', '.join(VIDEO_SUFFIXES)})")
    smoother = None
    if args.smooth == "one-euro":
        from kpdet.tracking import TrackSmoother

        smoother = TrackSmoother(min_cutoff=args.min_cutoff, beta=args.beta)
    if args.track_max_lost < 0:
        raise ConfigError(f"--track-max-lost must be >= 0 frames, got {args.track_max_lost}")
    predictor = load(args.run, checkpoint=args.checkpoint, device=args.device)
    print(f"{predictor.checkpoint} on {predictor.device}")
    args.box_source = load(args.boxes_from, device=args.device) if args.boxes_from else None
    if video:
        return _video(predictor, src, out, args, smoother)
    return _images(predictor, src, out, args)


def _images(predictor, src, out, args) -> int:
    from tqdm.auto import tqdm

    from kpdet.api import expand_images
    from kpdet.data.images import write_image
    from kpdet.fileio import write_json
    from kpdet.viz.draw import draw_predictions

    paths = expand_images(src)
    root = (src if src.is_dir() else src.parent).resolve()
    names = [p.resolve().relative_to(root).as_posix() for p in paths]
    records, preds = [], []
    stream = predictor.stream(paths, args.box_source or args.boxes, batch_size=args.batch_size)
    for name, (image_id, image, found) in tqdm(zip(names, stream), total=len(paths), unit="img", desc="predict"):
        records.append({"id": image_id, "file_name": name, "width": int(image.shape[1]),
                        "height": int(image.shape[0])})
        preds.extend(p.to_coco() for p in found)
        if not args.no_draw:
            drawn = draw_predictions(image, found, predictor.schemas, score_thr=args.score_thr)
            write_image(out / "overlays" / name, drawn)
    write_json(preds, out / "predictions.json")
    write_json({"image_root": str(root), "images": records, "annotations": [], "categories": predictor.categories},
               out / "images.json", indent=1)
    print(f"{len(preds)} predictions on {len(records)} image(s) -> {out / 'predictions.json'}"
          + ("" if args.no_draw else f", overlays in {out / 'overlays'}"))
    return 0


def _video(predictor, src, out, args, smoother) -> int:
    import json
    import time

    from tqdm.auto import tqdm

    from kpdet.data.video import VideoReader, VideoWriter
    from kpdet.engine.evaluate import load_boxes
    from kpdet.fileio import atomic_open, write_json
    from kpdet.viz.draw import draw_predictions

    by_frame: dict[int, list] = {}
    if args.boxes:
        dets = load_boxes(args.boxes)
        for d in dets:
            by_frame.setdefault(int(d["image_id"]), []).append(d)
    video_path = out / f"{src.stem}_pred.mp4"
    tracker = None
    if args.track or smoother is not None:
        from kpdet.tracking import Tracker

        tracker = Tracker(predictor.schemas, similarity=args.track_similarity, birth_score=args.score_thr,
                          max_lost=args.track_max_lost)
    frames, start = 0, time.perf_counter()
    with VideoReader(src) as reader:
        writer = None if args.no_draw else VideoWriter(video_path, reader.fps, reader.size)
        ok = False
        try:
            with atomic_open(out / "frames.jsonl", "w") as lines, \
                    tqdm(total=reader.frame_count or None, unit="frame", desc=src.name) as bar:
                for first, chunk in reader.chunks(args.batch_size):
                    ids = list(range(first, first + len(chunk)))
                    boxes = [by_frame.get(i, []) for i in ids] if args.boxes else args.box_source
                    for image_id, image, found in predictor.stream(chunk, boxes, batch_size=args.batch_size,
                                                                   image_ids=ids):
                        if tracker is not None:
                            found = tracker.update(image_id, found)
                        if smoother is not None:
                            found = smoother(image_id / reader.fps, found)
                        lines.write(json.dumps({"frame": image_id, "time_s": round(image_id / reader.fps, 4),
                                                "predictions": [p.to_coco() for p in found]}) + "\n")
                        if writer is not None:
                            writer.write(draw_predictions(image, found, predictor.schemas, score_thr=args.score_thr))
                    frames += len(chunk)
                    bar.update(len(chunk))
                    if tracker is not None:
                        bar.set_postfix(tracks=len(tracker.tracks), refresh=False)
            ok = True
        finally:
            if writer is not None:
                writer.close(keep=ok)
        seconds = time.perf_counter() - start
        tracking = None if tracker is None else {"similarity": args.track_similarity, "birth_score": args.score_thr,
                                                 "max_lost": args.track_max_lost, "tracks": tracker.started}
        smoothing = None if smoother is None else {"filter": "one-euro", "min_cutoff": args.min_cutoff,
                                                   "beta": args.beta, "d_cutoff": smoother.params[2]}
        write_json({"source": str(src.resolve()), "fps": reader.fps, "width": reader.size[0],
                    "height": reader.size[1], "frames": frames, "categories": predictor.categories,
                    "tracking": tracking, "smoothing": smoothing}, out / "video.json", indent=1)
    if args.boxes and not any(0 <= i < frames for i in by_frame):
        print(f"warning: no detection in {args.boxes} matches a frame index 0..{frames - 1}")
    print(f"{frames} frames in {seconds:.1f} s ({frames / max(seconds, 1e-9):.1f} frames/s)"
          + ("" if tracker is None else f", {tracker.started} track(s)")
          + f" -> {out / 'frames.jsonl'}" + ("" if args.no_draw else f", {video_path}"))
    return 0
