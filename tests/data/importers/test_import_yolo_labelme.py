import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from kpdet.data.coco import load_coco, save_coco
from kpdet.data.importers.builder import ImageStore
from kpdet.data.importers.labelme import import_labelme
from kpdet.data.importers.options import ImportOptions
from kpdet.data.importers.yolo import import_yolo
from kpdet.errors import DataError

SETSQUARE = "setsquare-keypoints"


def _yaml(path: Path, root: Path, extra: str = "") -> Path:
    path.write_text(f"path: {root}\ntrain: images\nkpt_shape: [3, 3]\nflip_idx: [0, 1, 2]\n"
                    f"names: {{0: setsquare}}\nkpt_names: [angle_30, angle_60, angle_90]\n{extra}")
    return path


def _save(builder, out):
    save_coco(builder.to_dict(), out)
    return load_coco(out)


def _yolo(shared_data, tmp_path):
    root = shared_data / SETSQUARE
    opts = ImportOptions(labels=root / "yolo_labels")
    return _save(import_yolo(_yaml(tmp_path / "d.yaml", root), ImageStore(tmp_path / "y.json"), opts),
                 tmp_path / "y.json")


def _labelme(shared_data, tmp_path):
    src = shared_data / SETSQUARE / "labelme_jsons"
    return _save(import_labelme(src, ImageStore(tmp_path / "l.json"), ImportOptions()), tmp_path / "l.json")


def test_yolo_counts_are_exact(shared_data, tmp_path):
    root = shared_data / SETSQUARE
    lines = [ln.split() for f in sorted((root / "yolo_labels").glob("*.txt"))
             for ln in f.read_text().splitlines() if ln.strip()]
    ds = _yolo(shared_data, tmp_path)
    assert len(ds.images) == len(list((root / "images").glob("*.jpg")))
    assert len(ds.annotations) == len(lines)
    assert sum(a["num_keypoints"] for a in ds.annotations) == sum(float(v) > 0 for ln in lines for v in ln[7::3])
    assert ds.categories[0]["keypoints"] == ["angle_30", "angle_60", "angle_90"]
    # denormalised: x = cx·W − 0.5 (YOLO's 0 is the image's corner, kpdet's the first pixel's centre)
    img = ds.images[0]
    h, w = cv2.imread(str(ds.image_path(img["id"]))).shape[:2]
    assert (img["width"], img["height"]) == (w, h)
    first = (root / "yolo_labels" / (Path(img["file_name"]).stem + ".txt")).read_text().split()
    a = ds.anns_by_image[img["id"]][0]
    assert a["keypoints"][0] == pytest.approx(float(first[5]) * w - 0.5)


def test_labelme_counts_are_exact(shared_data, tmp_path):
    files = sorted((shared_data / SETSQUARE / "labelme_jsons").glob("*.json"))
    shapes = [s for f in files for s in json.loads(f.read_text())["shapes"]]
    ds = _labelme(shared_data, tmp_path)
    assert len(ds.images) == len(files)
    assert len(ds.annotations) == sum(s["shape_type"] == "rectangle" for s in shapes)
    assert sum(a["num_keypoints"] for a in ds.annotations) == sum(s["shape_type"] == "point" for s in shapes)


def test_yolo_and_labelme_agree(shared_data, tmp_path):
    y, m = _yolo(shared_data, tmp_path), _labelme(shared_data, tmp_path)

    def by_image(ds):
        out = defaultdict(list)
        for a in ds.annotations:
            out[Path(ds.image_by_id[a["image_id"]]["file_name"]).stem].append(np.reshape(a["keypoints"], (-1, 3)))
        return out

    ya, ma = by_image(y), by_image(m)
    assert ya.keys() == ma.keys()
    worst = 0.0
    for stem, insts in ya.items():
        assert len(insts) == len(ma[stem]), stem
        for k in insts:
            worst = max(worst, min(float(np.abs(k - k2).max()) for k2 in ma[stem]))
    assert worst < 3.0  # YOLO stores 5 decimals of the image size: under 1 px on these photos


def _yolo_set(tmp_path, label_text, extra=""):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.zeros((20, 30, 3), np.uint8))
    (tmp_path / "labels" / "a.txt").write_text(label_text)
    return _yaml(tmp_path / "d.yaml", tmp_path, extra)


def test_yolo_bad_lines(tmp_path):
    src = _yolo_set(tmp_path, "0 0.5 0.5 0.2 0.2 0.1 0.1 2 0.2 0.2 2\n")
    with pytest.raises(DataError, match=r"labels/a.txt, line 1: expected 14 values .* got 11"):
        import_yolo(src, ImageStore(tmp_path / "o.json"), ImportOptions())
    (tmp_path / "labels" / "a.txt").write_text("3 0.5 0.5 0.2 0.2 0.1 0.1 2 0.2 0.2 2 0.3 0.3 2\n")
    with pytest.raises(DataError, match=r"line 1: class 3 is not in"):
        import_yolo(src, ImageStore(tmp_path / "o.json"), ImportOptions())
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.1 0.1 2 0.2 0.2 1 0.3 0.3 0\n")
    ds = _save(import_yolo(src, ImageStore(tmp_path / "o.json"), ImportOptions()), tmp_path / "o.json")
    assert ds.annotations[0]["keypoints"][2::3] == [2, 1, 0]


def test_yolo_bad_yaml(tmp_path):
    (tmp_path / "d.yaml").write_text("kpt_shape: [3, 3\n")
    with pytest.raises(DataError, match=r"d.yaml: malformed YAML"):
        import_yolo(tmp_path / "d.yaml", ImageStore(tmp_path / "o.json"), ImportOptions())
    (tmp_path / "d.yaml").write_text("kpt_shape: [3, 4]\nnames: [a]\ntrain: images\n")
    with pytest.raises(DataError, match=r"field 'kpt_shape': expected \[K, 2\] or \[K, 3\]"):
        import_yolo(tmp_path / "d.yaml", ImageStore(tmp_path / "o.json"), ImportOptions())
    (tmp_path / "d.yaml").write_text("kpt_shape: [3, 3]\nnames: [a]\ntrain: images\nflip_idx: [1, 2, 0]\n")
    with pytest.raises(DataError, match=r"field 'flip_idx': flip_idx must swap pairs"):
        import_yolo(tmp_path / "d.yaml", ImageStore(tmp_path / "o.json"), ImportOptions())


def _labelme_file(tmp_path, shapes, image=True):
    if image:
        cv2.imwrite(str(tmp_path / "a.png"), np.zeros((100, 100, 3), np.uint8))
    f = tmp_path / "a.json"
    f.write_text(json.dumps({"imagePath": "a.png", "shapes": [
        {"label": lab, "points": pts, "shape_type": kind, "group_id": None} for lab, kind, pts in shapes]}))
    return f


def test_labelme_grouping_smallest_rectangle_and_stray_point(tmp_path):
    f = _labelme_file(tmp_path, [
        ("big", "rectangle", [[0, 0], [90, 90]]),
        ("small", "rectangle", [[10, 10], [30, 30]]),
        ("tip", "point", [[20, 20]]),  # inside both: goes to the smaller
        ("tip", "point", [[60, 60]]),
        ("tip", "point", [[95, 95]]),  # inside none: warned and dropped
    ])
    with pytest.warns(UserWarning, match=r"a.json: point 'tip' \(shape #4\) .* lies in no rectangle"):
        ds = _save(import_labelme(f, ImageStore(tmp_path / "o.json"), ImportOptions()), tmp_path / "o.json")
    by_cat = {ds.category_by_id[a["category_id"]]["name"]: a for a in ds.annotations}
    assert by_cat["small"]["keypoints"] == [19.5, 19.5, 2.0]
    assert by_cat["big"]["keypoints"] == [59.5, 59.5, 2.0]
    assert by_cat["small"]["bbox"] == [9.5, 9.5, 20.0, 20.0]


def test_labelme_bad_input(tmp_path):
    f = _labelme_file(tmp_path, [("r", "rectangle", [[0, 0]])])
    with pytest.raises(DataError, match=r"a.json, shape #0 \('r'\), field 'points': expected 2"):
        import_labelme(f, ImageStore(tmp_path / "o.json"), ImportOptions())
    f = _labelme_file(tmp_path, [("r", "rectangle", [[0, 0], [50, 50]]), ("p", "point", [[5, 5]]),
                                 ("p", "point", [[6, 6]])])
    with pytest.raises(DataError, match=r"shape #2: two 'p' points in one 'r' rectangle"):
        import_labelme(f, ImageStore(tmp_path / "o.json"), ImportOptions())
    (tmp_path / "a.png").unlink()
    with pytest.raises(DataError, match=r"a.json, field 'imagePath': image not found"):
        import_labelme(f, ImageStore(tmp_path / "o.json"), ImportOptions())
