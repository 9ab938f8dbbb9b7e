"""DeepLabCut labels: ``CollectedData_<scorer>.csv`` (single- or multi-animal) → COCO keypoints.

Header rows (first cell names the row): ``scorer``, optional ``individuals`` (multi-animal),
``bodyparts``, ``coords`` (x, y per bodypart). The index is one column
(``labeled-data/<video>/img.png``) or, since DLC 2.3, three (``labeled-data``, ``<video>``,
``img.png``), all relative to the project folder. An empty coordinate is a point that was not
labelled (v = 0); DLC has no hidden flag, so every labelled point is v = 2. Coordinates are
kept as they are: DLC labels in matplotlib pixel coordinates, centres at integers like kpdet.

Each individual with at least one labelled point is an instance; an individual with none is
absent from the frame. Individuals sharing a bodypart list share a category (multi-animal
``single`` with the unique bodyparts gets its own). Boxes come from the labelled points (see
:data:`kpdet.data.importers.builder.BOX_MARGIN`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from kpdet.data.importers.builder import CocoBuilder, ImageStore, image_size
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError
from kpdet.schema import infer_flip_pairs

_HEADER_ROWS = ("scorer", "individuals", "bodyparts", "coords")


def import_dlc(src: Path, store: ImageStore, options: ImportOptions) -> CocoBuilder:
    """``src``: a CollectedData_*.csv or a DLC project folder (all labeled-data/*/CollectedData_*.csv)."""
    if src.is_dir():
        project = src
        csvs = sorted(src.glob("labeled-data/*/CollectedData_*.csv"))
        if not csvs:
            raise DataError(str(src), "no labeled-data/*/CollectedData_*.csv in this DeepLabCut project folder")
    elif src.is_file():
        csvs = [src]
        # labeled-data/<video>/CollectedData_x.csv → the project is two folders up
        project = src.resolve().parents[2] if len(src.resolve().parents) > 2 else src.parent
    else:
        raise DataError(str(src), "file or folder not found")
    config = _read_config(project / "config.yaml")

    builder = CocoBuilder(info={"description": f"imported from DeepLabCut {src}"})
    categories: dict[tuple[str, ...], int] = {}
    for path in csvs:
        _import_csv(path, project, config, store, builder, categories)
    return builder


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import yaml

    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DataError(str(path), f"malformed YAML: {e}") from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise DataError(str(path), f"expected a mapping of settings, got {type(cfg).__name__}")
    for key in ("bodyparts", "multianimalbodyparts", "uniquebodyparts", "skeleton"):
        value = cfg.get(key)
        if value is not None and not isinstance(value, list):
            raise DataError(str(path), f"expected a list, got {value!r}", field=key)
    return cfg


def _config_bodyparts(config: dict[str, Any], individual: str | None) -> list[str] | None:
    if individual == "single":
        names = config.get("uniquebodyparts")
    elif config.get("multianimalproject") and config.get("multianimalbodyparts"):
        names = config["multianimalbodyparts"]
    else:
        names = config.get("bodyparts")
    if not names or names == "MULTI!":
        return None
    return [str(n) for n in names]


def _parse_header(path: Path, rows: list[list[str]]) -> tuple[int, list[tuple[str | None, str, str]], int]:
    """(number of index columns, (individual, bodypart, coord) per data column, header row count)."""
    names = [r[0].strip().lower() if r else "" for r in rows[:4]]
    multi = len(names) > 1 and names[1] == "individuals"
    expected = ("scorer", "individuals", "bodyparts", "coords") if multi else ("scorer", "bodyparts", "coords")
    n_header = len(expected)
    if tuple(names[:n_header]) != expected:
        raise DataError(str(path), f"expected the DeepLabCut header rows {', '.join(expected)} in the first "
                        f"column, got {names[:n_header]}", record="header")
    coords = rows[n_header - 1]
    n_index = next((i for i, c in enumerate(coords) if i > 0 and c.strip() in ("x", "y")), None)
    if n_index is None:
        raise DataError(str(path), "no x/y columns in the 'coords' row", record="header")
    width = len(coords)
    for i, r in enumerate(rows[:n_header]):
        if len(r) != width:
            raise DataError(str(path), f"expected {width} columns like the 'coords' row, got {len(r)}",
                            record=f"row {i + 1} ({_HEADER_ROWS[i] if multi else expected[i]})")
    columns = []
    for j in range(n_index, width):
        ind = rows[1][j].strip() if multi else None
        bp, co = rows[n_header - 2][j].strip(), coords[j].strip()
        if co not in ("x", "y"):
            raise DataError(str(path), f"expected coordinate 'x' or 'y', got {co!r}", record="header",
                            field=f"column {j + 1}")
        columns.append((ind, bp, co))
    if (width - n_index) % 2:
        raise DataError(str(path), "expected an x and a y column for every bodypart", record="header")
    for j in range(0, len(columns), 2):
        (i1, b1, c1), (i2, b2, c2) = columns[j], columns[j + 1]
        if (i1, b1, c1, c2) != (i2, b2, "x", "y"):
            raise DataError(str(path), f"expected x then y of one bodypart, got {columns[j]} and {columns[j + 1]}",
                            record="header", field=f"column {n_index + j + 1}")
    return n_index, columns, n_header


def _import_csv(path: Path, project: Path, config: dict[str, Any], store: ImageStore,
                builder: CocoBuilder, categories: dict[tuple[str, ...], int]) -> None:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise DataError(str(path), f"not UTF-8 text: {e}") from None
    n_index, columns, n_header = _parse_header(path, rows)

    # individual → ordered bodyparts (config order when the project has one)
    layout: dict[str | None, list[str]] = {}
    for ind, bp, co in columns[::2]:
        layout.setdefault(ind, []).append(bp)
    slots: dict[str | None, dict[str, int]] = {}
    cat_of: dict[str | None, int] = {}
    for ind, bps in layout.items():
        order = _config_bodyparts(config, ind)
        if order is not None:
            unknown = [b for b in bps if b not in order]
            if unknown:
                raise DataError(str(path), f"unknown bodypart(s) {unknown}; config.yaml lists {order}",
                                record="header", field="bodyparts")
        else:
            order = bps
        slots[ind] = {b: order.index(b) for b in bps}
        cat_of[ind] = _category(builder, categories, tuple(order), ind, config, project / "config.yaml")

    width = len(rows[n_header - 1])
    for lineno, row in enumerate(rows[n_header:], start=n_header + 1):
        if not row or all(not c.strip() for c in row):
            continue
        rec = f"row {lineno}"
        if len(row) != width:
            raise DataError(str(path), f"expected {width} columns like the header, got {len(row)}", record=rec)
        rel = "/".join(c.strip().replace("\\", "/") for c in row[:n_index] if c.strip())  # Windows projects
        image = _find_image(project, path, rel)
        if image is None:
            raise DataError(str(path), f"image not found: {rel} (looked in {project} and {path.parent})", record=rec)
        w, h = image_size(image, str(path), rec)
        try:
            name = image.resolve().relative_to(project.resolve()).as_posix()
        except ValueError:
            name = f"{path.parent.name}/{image.name}"
        image_id = builder.add_image(store.reference(image, name), w, h)

        kps = {ind: np.zeros((len(s_), 3)) for ind, s_ in slots.items()}
        for j in range(0, len(columns), 2):
            ind, bp, _ = columns[j]
            x = _number(path, rec, row[n_index + j], f"{bp} x")
            y = _number(path, rec, row[n_index + j + 1], f"{bp} y")
            if (x is None) != (y is None):
                raise DataError(str(path), "expected both x and y or neither", record=rec, field=bp)
            if x is not None:
                kps[ind][slots[ind][bp]] = (x, y, 2)
        for ind, k in kps.items():
            if (k[:, 2] > 0).any():
                extra = {"individual": ind} if ind is not None else {}
                builder.add_instance(image_id, cat_of[ind], k, **extra)


def _number(path: Path, rec: str, text: str, field: str) -> float | None:
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(str(path), f"expected a number or an empty cell, got {text!r}", record=rec, field=field) from None
    if not math.isfinite(value):
        raise DataError(str(path), f"expected a finite number, got {text!r}", record=rec, field=field)
    return value


def _find_image(project: Path, csv_path: Path, rel: str) -> Path | None:
    for cand in (project / rel, csv_path.parent / Path(rel).name):
        if cand.is_file():
            return cand
    return None


def _category(builder: CocoBuilder, categories: dict[tuple[str, ...], int], names: tuple[str, ...],
              individual: str | None, config: dict[str, Any], config_path: Path) -> int:
    if names in categories:
        return categories[names]
    index = {n: i for i, n in enumerate(names)}
    skeleton = []
    for edge in config.get("skeleton") or []:
        if not (isinstance(edge, list) and len(edge) == 2):
            raise DataError(str(config_path), f"expected [bodypart, bodypart], got {edge!r}",
                            field="skeleton")
        if all(e in index for e in edge):
            skeleton.append((index[edge[0]], index[edge[1]]))
        elif not any(e in index for e in edge):
            continue  # an edge of another category (multi-animal unique bodyparts)
        else:
            raise DataError(str(config_path), f"skeleton edge {edge} names a bodypart not in {list(names)}",
                            field="skeleton")
    name = "single" if individual == "single" else str(config.get("Task") or "animal")
    cid = builder.add_category(name, list(names), skeleton, infer_flip_pairs(names))
    categories[names] = cid
    return cid
