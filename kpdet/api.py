"""The Python API: load a trained run and predict keypoints on image files, folders or arrays.

::

    import kpdet
    predictor = kpdet.load("runs/demo")                    # best.pt; EMA weights when the run kept them
    results = predictor.predict(["a.jpg", frame_rgb])      # one list of Prediction per image
    results = predictor.predict("photos/", boxes="det.json")
    predictor = kpdet.load("model.onnx")                   # written by `kpdet export`; ONNX Runtime forward

Prediction goes through the same method interface as training and evaluation: the images become
an in-memory :class:`~kpdet.data.coco.CocoDataset` (no annotations; arrays attached with
``coco.arrays``), then ``method.build_dataset(coco, train=False, boxes=…)`` and
``method.predict_batch``. Keypoints come back in the original image coordinates.

Boxes (used by top-down methods; bottom-up methods ignore them):

* ``None``: one whole-image box ``[-0.5, -0.5, W, H]`` per image for each category of the model,
  so a top-down model works on single-animal or face images without a detector;
* a detections JSON path, or a list of detection dicts (COCO results format:
  ``{image_id, category_id, bbox, score}``), where image ids are the 1-based positions of the
  images in input order (or the ``image_ids`` passed to :meth:`Predictor.predict`);
* one list of boxes per image, each box ``[x, y, w, h]``, ``[x, y, w, h, score]`` or a dict
  ``{bbox, score?, category_id?}``. A box without a category is used for every category;
* another :class:`Predictor` whose predictions carry boxes, trained on the same categories and
  keypoints (``kpdet.load(detector_run)``): it runs on each batch of images first and its boxes,
  with their scores, are used (``kpdet predict RUN --boxes-from DETECTOR_RUN``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence, Union

import numpy as np

from kpdet.errors import ConfigError, DataError
from kpdet.structures import Prediction

ImageInput = Union[str, os.PathLike, np.ndarray]
BOXES = "boxes"  # the DataError source of a bad `boxes` argument


def load(run: str | os.PathLike, *, checkpoint: Literal["best", "last"] = "best",
         device: str | None = None) -> "Predictor":
    """A :class:`Predictor` for a run directory written by ``kpdet train`` (or one of its ``.pt`` files),
    or for a model written by ``kpdet export`` (``.onnx``: ONNX Runtime runs the forward pass on the
    CPU, the method decodes; ``checkpoint`` does not apply).

    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``…; ``None`` picks CUDA when available (the CPU for
    an ONNX model).
    """
    from kpdet.engine.restore import load_trained

    if Path(run).suffix.lower() == ".onnx":
        from kpdet.export.runtime import load_onnx

        return load_onnx(run, device=device or "cpu")

    trained = load_trained(run, checkpoint=checkpoint)
    return Predictor(trained.method, device=device, checkpoint=trained.checkpoint)


def resolve_device(device: Any = None):
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"device {device!r}: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' asked for, but CUDA is not available on this machine")
    return dev


def expand_images(images: ImageInput | Sequence[ImageInput]) -> list[Path | np.ndarray]:
    """Paths, folders (their images, sorted by name) and arrays, flattened in input order."""
    from kpdet.data.images import list_images

    items = [images] if isinstance(images, (str, os.PathLike, np.ndarray)) else list(images)
    out: list[Path | np.ndarray] = []
    for n, item in enumerate(items):
        if isinstance(item, np.ndarray):
            if item.ndim != 3 or item.shape[2] != 3 or item.dtype != np.uint8:
                raise DataError(f"array #{n}", f"expected an (H, W, 3) uint8 RGB image, got shape "
                                f"{item.shape} of {item.dtype}")
            out.append(item)
        elif isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if path.is_dir():
                found = list_images(path)
                if not found:
                    raise DataError(str(path), "folder holds no image files")
                out.extend(found)
            elif path.is_file():
                out.append(path)
            else:
                raise DataError(str(path), "image file or folder not found")
        else:
            raise DataError(f"image #{n}", f"expected a path, a folder or an (H, W, 3) uint8 array, "
                            f"got {type(item).__name__}")
    return out


def whole_image_boxes(image_ids: Sequence[int], sizes: Sequence[tuple[int, int]],
                      category_ids: Sequence[int]) -> list[dict[str, Any]]:
    """One box covering each image (W, H) for each category: ``[-0.5, -0.5, W, H]`` in the
    pixel-centre convention of kpdet.structures."""
    return [{"image_id": int(i), "category_id": int(c), "bbox": [-0.5, -0.5, float(w), float(h)], "score": 1.0}
            for i, (w, h) in zip(image_ids, sizes) for c in category_ids]


def per_image_boxes(boxes: Sequence[Any], image_ids: Sequence[int],
                    category_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Detection dicts from one list of boxes per image (formats in the module docstring)."""
    if len(boxes) != len(image_ids):
        raise DataError(BOXES, f"expected one list of boxes per image ({len(image_ids)}), got {len(boxes)}")
    dets = []
    for image_id, n, per_image in zip(image_ids, range(len(boxes)), boxes):
        for m, box in enumerate([] if per_image is None else per_image):
            rec = f"image #{n}, box #{m}"
            if isinstance(box, dict):
                if "bbox" not in box:
                    raise DataError(BOXES, "missing", record=rec, field="bbox")
                xywh, score, cats = box["bbox"], box.get("score", 1.0), box.get("category_id")
            else:
                values = list(np.asarray(box, np.float64).reshape(-1))
                if len(values) not in (4, 5):
                    raise DataError(BOXES, f"expected [x, y, w, h] or [x, y, w, h, score], got {box!r}", record=rec)
                xywh, score, cats = values[:4], values[4] if len(values) == 5 else 1.0, None
            xywh = [float(v) for v in np.asarray(xywh, np.float64).reshape(-1)]
            if len(xywh) != 4 or not all(np.isfinite(xywh)) or xywh[2] <= 0 or xywh[3] <= 0:
                raise DataError(BOXES, f"expected finite [x, y, w, h] with w, h > 0, got {xywh}",
                                record=rec, field="bbox")
            if cats is not None and int(cats) not in category_ids:
                raise DataError(BOXES, f"unknown category {cats} (the model has {sorted(category_ids)})",
                                record=rec, field="category_id")
            for c in category_ids if cats is None else [int(cats)]:
                dets.append({"image_id": int(image_id), "category_id": int(c), "bbox": xywh, "score": float(score)})
    return dets


def group_detections(dets: Sequence[dict[str, Any]], image_ids: Sequence[int], category_ids: Sequence[int],
                     source: str) -> list[list[dict[str, Any]]]:
    """COCO detection dicts → one list per image id (a detection without ``category_id`` is used
    for every category); an error when none matches any image."""
    by_id: dict[int, list[dict[str, Any]]] = {int(i): [] for i in image_ids}
    for n, d in enumerate(dets):
        if not isinstance(d, dict) or "image_id" not in d or "bbox" not in d:
            raise DataError(source, "expected a dict with image_id and bbox", record=f"detection #{n}")
        if int(d["image_id"]) in by_id:
            cats = category_ids if d.get("category_id") is None else [d["category_id"]]
            by_id[int(d["image_id"])].extend({**d, "category_id": int(c), "score": float(d.get("score", 1.0))}
                                             for c in cats)
    if dets and not any(by_id.values()):
        ids = sorted({int(d["image_id"]) for d in dets})
        raise DataError(source, f"no detection matches the images' ids {min(image_ids)}..{max(image_ids)} "
                        f"(detections are for ids {ids[0]}..{ids[-1]}); ids are 1-based positions in "
                        "input order (images.json of `kpdet predict` lists them)")
    return [by_id[int(i)] for i in image_ids]


class Predictor:
    """A trained method on a device, ready to predict. Build it with :func:`kpdet.load`."""

    def __init__(self, method, *, device: Any = None, checkpoint: Path | None = None):
        self.device = resolve_device(device)
        self.method = method.to(self.device).eval()
        self.checkpoint = checkpoint
        self.schemas = dict(method.schemas)  # {category_id: KeypointSchema}
        self.categories = [s.to_category(c) for c, s in sorted(self.schemas.items())]

    def predict(self, images: ImageInput | Sequence[ImageInput], boxes: Any = None, *, batch_size: int = 8,
                image_ids: Sequence[int] | None = None) -> list[list[Prediction]]:
        """One list of :class:`Prediction` per image, in input order (a folder expands to its
        images sorted by name). ``image_ids`` (default 1..N) become the predictions' ``image_id``."""
        return [preds for _, _, preds in self.stream(images, boxes, batch_size=batch_size, image_ids=image_ids)]

    def stream(self, images: ImageInput | Sequence[ImageInput], boxes: Any = None, *, batch_size: int = 8,
               image_ids: Sequence[int] | None = None) -> Iterator[tuple[int, np.ndarray, list[Prediction]]]:
        """Like :meth:`predict`, but yields ``(image_id, image (H, W, 3) uint8 RGB, predictions)`` per
        image as soon as its batch is done; only ``batch_size`` images are decoded at a time."""
        from kpdet.data.images import read_image
        from kpdet.engine.box_source import check_same_keypoints, detections_from
        from kpdet.engine.evaluate import load_boxes

        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        items = expand_images(images)
        if not items:
            return
        ids = list(range(1, len(items) + 1)) if image_ids is None else [int(i) for i in image_ids]
        if len(ids) != len(items) or len(set(ids)) != len(ids):
            raise DataError("image_ids", f"expected {len(items)} distinct ids, got {len(ids)} "
                            f"({len(set(ids))} distinct)")
        cat_ids = sorted(self.schemas)
        grouped: list[list[dict[str, Any]]] | None = None
        source = boxes if isinstance(boxes, Predictor) else None
        if source is not None:
            check_same_keypoints(source.schemas, self.schemas, str(source.checkpoint or BOXES))
        elif isinstance(boxes, (str, os.PathLike)):
            grouped = group_detections(load_boxes(boxes), ids, cat_ids, str(boxes))
        elif boxes is not None and len(boxes) and all(isinstance(b, dict) for b in boxes):
            grouped = group_detections(boxes, ids, cat_ids, BOXES)
        elif boxes is not None:
            dets = per_image_boxes(boxes, ids, cat_ids)
            grouped = group_detections(dets, ids, cat_ids, BOXES) if dets else [[] for _ in ids]

        for start in range(0, len(items), batch_size):
            chunk = items[start: start + batch_size]
            chunk_ids = ids[start: start + batch_size]
            arrays = [x if isinstance(x, np.ndarray) else read_image(x) for x in chunk]
            names = [f"<array #{start + n}>" if isinstance(x, np.ndarray) else str(x) for n, x in enumerate(chunk)]
            if source is not None:
                found = (p for _, _, preds in source.stream(arrays, batch_size=batch_size, image_ids=chunk_ids)
                         for p in preds)
                dets = detections_from(found, str(source.checkpoint or BOXES), source.method.name)
            elif grouped is None:
                dets = whole_image_boxes(chunk_ids, [(a.shape[1], a.shape[0]) for a in arrays], cat_ids)
            else:
                dets = [d for g in grouped[start: start + batch_size] for d in g]
            results: dict[int, list[Prediction]] = {i: [] for i in chunk_ids}
            for p in self.predict_arrays(arrays, chunk_ids, dets, names=names, batch_size=batch_size):
                results[p.image_id].append(p)
            yield from ((i, a, results[i]) for i, a in zip(chunk_ids, arrays))

    def predict_arrays(self, arrays: Sequence[np.ndarray], image_ids: Sequence[int], dets: list[dict[str, Any]],
                       *, names: Sequence[str] | None = None, batch_size: int = 8) -> list[Prediction]:
        """Predictions for decoded RGB arrays with their detections (a list of COCO detection dicts)."""
        import torch

        from kpdet.data.coco import CocoDataset

        names = names or [f"<array {i}>" for i in image_ids]
        records = [{"id": int(i), "file_name": str(name), "width": int(a.shape[1]), "height": int(a.shape[0])}
                   for i, name, a in zip(image_ids, names, arrays)]
        coco = CocoDataset(records, [], [dict(c) for c in self.categories], source="<predict>")
        for i, a in zip(image_ids, arrays):
            coco.arrays[int(i)] = a
        dataset = self.method.build_dataset(coco, train=False, boxes=dets)
        preds: list[Prediction] = []
        with torch.no_grad():
            for s in range(0, len(dataset), batch_size):
                batch, _, meta = self.method.collate([dataset[j] for j in range(s, min(s + batch_size, len(dataset)))])
                preds.extend(self.method.predict_batch(batch.to(self.device), meta))
        return self.method.postprocess(preds)
