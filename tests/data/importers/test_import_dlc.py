import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from kpdet.data.coco import load_coco, save_coco
from kpdet.data.importers.builder import ImageStore
from kpdet.data.importers.dlc import import_dlc
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError

OPENFIELD = "dlc-openfield-Pranav-2018-10-30"
REACHING = "dlc-Reaching-Mackenzie-2018-08-30"


def _convert(src: Path, out: Path, images: Path | None = None):
    builder = import_dlc(src, ImageStore(out, images), ImportOptions())
    save_coco(builder.to_dict(), out)
    return load_coco(out)


def _raw_counts(csv_path: Path) -> tuple[int, int, int]:
    """(rows, rows with any coordinate, labelled points) straight from the CSV text."""
    rows = list(csv.reader(open(csv_path, newline="")))[3:]
    rows = [r for r in rows if r]
    labelled = sum(1 for r in rows for c in r[1::2] if c.strip())
    return len(rows), sum(any(c.strip() for c in r[1:]) for r in rows), labelled


@pytest.mark.parametrize("project", [OPENFIELD, REACHING])
def test_project_counts_are_exact(shared_data, tmp_path, project):
    (csv_path,) = (shared_data / project).glob("labeled-data/*/CollectedData_*.csv")
    n_rows, n_inst, n_kp = _raw_counts(csv_path)
    ds = _convert(shared_data / project, tmp_path / "ann.json")
    assert len(ds.images) == n_rows
    assert len(ds.annotations) == n_inst
    assert sum(a["num_keypoints"] for a in ds.annotations) == n_kp
    assert {int(v) for a in ds.annotations for v in a["keypoints"][2::3]} <= {0, 2}
    first = ds.image_path(1)
    h, w = cv2.imread(str(first)).shape[:2]
    assert (ds.images[0]["width"], ds.images[0]["height"]) == (w, h)


def test_openfield_values_and_schema(shared_data, tmp_path):
    ds = _convert(shared_data / OPENFIELD, tmp_path / "ann.json")
    (cat,) = ds.categories
    assert cat["keypoints"] == ["snout", "leftear", "rightear", "tailbase"]  # config.yaml order
    assert cat["flip_pairs"] == [[2, 3]]
    a = ds.anns_by_image[1][0]
    assert ds.images[0]["file_name"].endswith("labeled-data/m4s1/img0000.png")
    assert a["keypoints"][:3] == [21.521, 265.428, 2.0]
    x, y, bw, bh = a["bbox"]
    kp = np.array(a["keypoints"]).reshape(-1, 3)
    assert x < kp[:, 0].min() and x + bw > kp[:, 0].max() and y < kp[:, 1].min() and y + bh > kp[:, 1].max()


def test_reaching_csv_empty_cells_and_skeleton(shared_data, tmp_path):
    (csv_path,) = (shared_data / REACHING).glob("labeled-data/*/CollectedData_*.csv")
    ds = _convert(csv_path, tmp_path / "ann.json")
    (cat,) = ds.categories
    assert cat["skeleton"] == [[1, 2], [4, 5]]  # Hand-Finger1, Joystick1-Joystick2 from config.yaml
    tongue = [a["keypoints"][6:9] for a in ds.annotations]
    assert [0.0, 0.0, 0.0] in tongue and any(t[2] == 2 for t in tongue)


def test_images_are_copied_with_relative_names(shared_data, tmp_path):
    out = tmp_path / "out" / "ann.json"
    (csv_path,) = (shared_data / REACHING).glob("labeled-data/*/CollectedData_*.csv")
    ds = _convert(csv_path, out, tmp_path / "out" / "imgs")
    assert ds.images[0]["file_name"].startswith("imgs/labeled-data/reachingvideo1/")
    assert all(ds.image_path(i["id"]).is_file() for i in ds.images)


def _project(tmp_path: Path, header: list[list[str]], rows: list[list[str]], config: str | None = None,
             n_index: int = 1) -> Path:
    video = tmp_path / "proj" / "labeled-data" / "v1"
    video.mkdir(parents=True)
    for r in rows:
        cv2.imwrite(str(tmp_path / "proj" / "/".join(r[:n_index])), np.zeros((40, 60, 3), np.uint8))
    with open(video / "CollectedData_me.csv", "w", newline="") as f:
        csv.writer(f).writerows(header + rows)
    if config is not None:
        (tmp_path / "proj" / "config.yaml").write_text(config)
    return tmp_path / "proj"


def test_multi_animal_three_index_columns(tmp_path):
    header = [["scorer", "", "", "me", "me", "me", "me", "me", "me"],
              ["individuals", "", "", "m1", "m1", "m2", "m2", "single", "single"],
              ["bodyparts", "", "", "nose", "nose", "nose", "nose", "led", "led"],
              ["coords", "", "", "x", "y", "x", "y", "x", "y"]]
    rows = [["labeled-data", "v1", "a.png", "10", "12", "", "", "30", "5"],
            ["labeled-data", "v1", "b.png", "1", "2", "3", "4", "", ""]]
    proj = _project(tmp_path, header, rows, n_index=3)
    ds = _convert(proj, tmp_path / "ann.json")
    assert len(ds.images) == 2 and len(ds.annotations) == 4
    assert [c["name"] for c in ds.categories] == ["animal", "single"]
    assert [a["individual"] for a in ds.annotations] == ["m1", "single", "m1", "m2"]
    assert (ds.images[0]["width"], ds.images[0]["height"]) == (60, 40)


_HEADER = [["scorer", "me", "me"], ["bodyparts", "nose", "nose"], ["coords", "x", "y"]]


def test_wrong_column_count_names_the_row(tmp_path):
    proj = _project(tmp_path, _HEADER, [["labeled-data/v1/a.png", "1", "2"], ["labeled-data/v1/b.png", "1"]])
    with pytest.raises(DataError, match=r"CollectedData_me.csv, row 5: expected 3 columns"):
        _convert(proj, tmp_path / "ann.json")


def test_unknown_bodypart_against_config(tmp_path):
    proj = _project(tmp_path, _HEADER, [["labeled-data/v1/a.png", "1", "2"]], "bodyparts: [snout]\n")
    with pytest.raises(DataError, match=r"unknown bodypart\(s\) \['nose'\]"):
        _convert(proj, tmp_path / "ann.json")


def test_malformed_config_yaml(tmp_path):
    proj = _project(tmp_path, _HEADER, [["labeled-data/v1/a.png", "1", "2"]], "bodyparts: [snout\n")
    with pytest.raises(DataError, match=r"config.yaml: malformed YAML"):
        _convert(proj, tmp_path / "ann.json")


def test_missing_image_and_bad_number(tmp_path):
    proj = _project(tmp_path, _HEADER, [["labeled-data/v1/a.png", "1", "2"]])
    (proj / "labeled-data" / "v1" / "a.png").unlink()
    with pytest.raises(DataError, match=r"row 4: image not found: labeled-data/v1/a.png"):
        _convert(proj, tmp_path / "ann.json")
    proj2 = _project(tmp_path / "b", _HEADER, [["labeled-data/v1/a.png", "1", "two"]])
    with pytest.raises(DataError, match=r"row 4, field 'nose y': expected a number"):
        _convert(proj2, tmp_path / "ann.json")
