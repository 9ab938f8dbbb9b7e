"""`kpdet show`: draw a dataset (and optionally predictions) image by image, plus an index.html."""

from __future__ import annotations

import argparse
import json
import re
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

HELP = "draw ground truth (and predictions) on every image, with an index.html contact sheet"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gt", required=True, metavar="ANN.json", help="COCO keypoints file")
    p.add_argument("--pred", metavar="PRED.json", help="predictions in the COCO results format: drawn in a "
                   "panel beside the ground truth")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--images", metavar="DIR", help="folder the images' file_name is relative to "
                   "(default: the folder of ANN.json)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    p.add_argument("--score-thr", type=float, default=0.3, metavar="T",
                   help="hide predicted instances and keypoints scoring below T (default 0.3)")
    p.add_argument("--skip-missing", action="store_true", help="warn about missing image files instead of failing")
    p.add_argument("--names", action="store_true", help="write keypoint names beside the points")
    p.add_argument("--no-boxes", action="store_true", help="do not draw boxes and labels")
    p.add_argument("--max-side", type=int, default=1920, metavar="PX",
                   help="shrink each drawn panel so its longer side is at most PX (default 1920; 0 keeps the size)")
    p.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format (default jpg)")


def load_predictions(path: str | Path, schemas: dict[int, Any]) -> list:
    """Read a COCO results file (a list, or an object with an 'annotations' list) into Predictions.

    Box-only detection results (no ``keypoints``) are accepted and drawn as boxes.
    """
    from kpdet.errors import DataError
    from kpdet.structures import Prediction

    src = str(path)
    if not Path(path).is_file():
        raise DataError(src, "predictions file not found")
    try:
        with open(path, "rb") as f:
            obj = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(src, f"not valid JSON: {e}") from None
    if isinstance(obj, dict) and isinstance(obj.get("annotations"), list):
        obj = obj["annotations"]
    if not isinstance(obj, list):
        raise DataError(src, f"expected a list of results (image_id, category_id, keypoints, score), "
                        f"got {type(obj).__name__}")
    preds = []
    for n, d in enumerate(obj):
        rec = f"result #{n}"
        if not isinstance(d, dict):
            raise DataError(src, f"expected an object, got {type(d).__name__}", record=rec)
        for key in ("image_id", "category_id", "score"):
            if key not in d:
                raise DataError(src, "missing", record=rec, field=key)
        if "keypoints" not in d:
            if "bbox" not in d:
                raise DataError(src, "missing (and no bbox either)", record=rec, field="keypoints")
            k = schemas[d["category_id"]].num_keypoints if d["category_id"] in schemas else 0
            d = {**d, "keypoints": [0.0] * (3 * k)}  # a detection result: only its box is drawn
        try:
            p = Prediction.from_coco(d)
        except (TypeError, ValueError) as e:
            raise DataError(src, f"malformed result: {e}", record=rec) from None
        k = schemas[p.category_id].num_keypoints if p.category_id in schemas else None
        if k is not None and len(p.keypoints) != k:
            raise DataError(src, f"expected {3 * k} numbers for category {p.category_id}, "
                            f"got {3 * len(p.keypoints)}", record=rec, field="keypoints")
        preds.append(p)
    return preds


def _output_name(file_name: str, image_id: int, used: set[str], ext: str) -> str:
    # Only the path parts below any "..": an output name must never start with a dot (hidden file).
    parts = [p for p in Path(file_name.replace("\\", "/")).with_suffix("").parts if p not in ("..", ".", "/")]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(parts[-2:])).lstrip(".")
    name = f"{stem or 'image'}.{ext}"
    if name in used:
        name = f"{stem}_id{image_id}.{ext}"
    used.add(name)
    return name


def _shrink(img, max_side: int):
    import cv2

    h, w = img.shape[:2]
    if max_side <= 0 or max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def run(args: argparse.Namespace) -> int:
    from kpdet.data.coco import load_coco
    from kpdet.data.images import read_image, write_image
    from kpdet.errors import DataError
    from kpdet.viz.draw import category_colors, draw_instances, draw_predictions, side_by_side
    from kpdet.viz.report import write_contact_sheet

    ds = load_coco(args.gt, image_root=args.images)
    out = Path(args.out)
    colors = category_colors(ds.schemas)

    preds_by_image: dict[int, list] | None = None
    if args.pred:
        preds_by_image = defaultdict(list)
        unknown_img: set[int] = set()
        unknown_cat: set[int] = set()
        for p in load_predictions(args.pred, ds.schemas):
            if p.image_id not in ds.image_by_id:
                unknown_img.add(p.image_id)
            elif p.category_id not in ds.schemas:
                unknown_cat.add(p.category_id)
            else:
                preds_by_image[p.image_id].append(p)
        if unknown_img:
            warnings.warn(f"{args.pred}: skipping predictions for {len(unknown_img)} image id(s) not in "
                          f"{args.gt}: {sorted(unknown_img)[:10]}", stacklevel=1)
        if unknown_cat:
            warnings.warn(f"{args.pred}: skipping predictions of unknown category id(s) {sorted(unknown_cat)}",
                          stacklevel=1)

    images = ds.images[: args.limit] if args.limit is not None else ds.images
    items, used, missing = [], set(), []
    for img in images:
        iid = img["id"]
        path = ds.image_path(iid)
        try:
            rgb = read_image(path)
        except DataError as e:
            if not args.skip_missing:
                raise DataError(str(path), f"{str(e).split(': ', 1)[-1]} (image id {iid} of {args.gt}; "
                                "use --images DIR to say where the images are, or --skip-missing)") from None
            missing.append(str(path))
            continue
        inst = ds.instances(iid)
        boxes = not args.no_boxes
        gt = draw_instances(rgb, inst, ds.schemas, boxes=boxes, labels=boxes, names=args.names, colors=colors)
        if preds_by_image is None:
            drawn = _shrink(gt, args.max_side)
            caption = f"{img['file_name']} · id {iid} · {len(inst)} instance(s)"
        else:
            preds = preds_by_image.get(iid, [])
            pr = draw_predictions(rgb, preds, ds.schemas, score_thr=args.score_thr, boxes=boxes, labels=boxes,
                                  names=args.names, colors=colors)
            shown = sum(p.score >= args.score_thr for p in preds)
            drawn = side_by_side([(f"ground truth ({len(inst)})", _shrink(gt, args.max_side)),
                                  (f"prediction ({shown} with score >= {args.score_thr:g})", _shrink(pr, args.max_side))])
            caption = f"{img['file_name']} · id {iid} · {len(inst)} GT · {shown}/{len(preds)} predicted"
        name = _output_name(img["file_name"], iid, used, args.format)
        write_image(out / name, drawn)
        items.append((out / name, caption))

    if missing:
        warnings.warn(f"skipped {len(missing)} missing image(s), e.g. {missing[0]}", stacklevel=1)
    notes = [f"ground truth: {args.gt}"] + ([f"predictions: {args.pred}"] if args.pred else [])
    notes.append("filled dot = visible (v=2) · ring and dashed edges = labelled but hidden (v=1) · "
                 "lighter tint = left side, darker = right side")
    legend = {ds.schemas[c].name: colors[c] for c in sorted(ds.schemas)}
    index = write_contact_sheet(out / "index.html", f"kpdet show: {Path(args.gt).name}", items,
                                notes=notes, legend=legend)
    print(f"wrote {len(items)} image(s) and {index}" + (f"; skipped {len(missing)} missing" if missing else ""))
    return 0
