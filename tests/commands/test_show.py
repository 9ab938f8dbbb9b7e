import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kpdet.cli import main
from kpdet.data.images import read_image, write_image
from kpdet.viz.draw import category_colors

COCO = "mmpose-testdata/coco/test_coco.json"
CAR = "mmpose-carfusion-sample/carfusion_coco.json"


def _outputs(out: Path, ext="jpg"):
    return sorted(p.name for p in out.glob(f"*.{ext}"))


def test_show_coco_people(shared_data, tmp_path):
    out = tmp_path / "show"
    assert main(["show", "--gt", str(shared_data / COCO), "--out", str(out)]) == 0
    ann = json.loads((shared_data / COCO).read_text())
    expected = sorted(Path(i["file_name"]).stem + ".jpg" for i in ann["images"])
    assert _outputs(out) == expected
    index = (out / "index.html").read_text()
    assert all(f'src="{name}"' in index for name in expected)
    first = ann["images"][0]
    assert read_image(out / (Path(first["file_name"]).stem + ".jpg")).shape == (first["height"], first["width"], 3)


def test_show_with_predictions_side_by_side(shared_data, tmp_path, capsys):
    ann = json.loads((shared_data / COCO).read_text())
    rng = np.random.default_rng(0)
    preds = []
    for a in ann["annotations"]:
        kp = np.asarray(a["keypoints"], float).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, 3, (len(kp), 2))
        kp[:, 2] = np.where(kp[:, 2] > 0, 0.9, 0.05)
        preds.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(),
                      "score": 0.8, "bbox": a["bbox"]})
    preds.append({"image_id": 999999, "category_id": 1, "keypoints": [0.0] * 51, "score": 0.9})
    pred_file = tmp_path / "pred.json"
    pred_file.write_text(json.dumps(preds))
    out = tmp_path / "show"
    with pytest.warns(UserWarning, match="1 image id.*999999"):
        rc = main(["show", "--gt", str(shared_data / COCO), "--pred", str(pred_file), "--out", str(out),
                   "--limit", "2", "--format", "png"])
    assert rc == 0 and len(_outputs(out, "png")) == 2
    first = ann["images"][0]
    drawn = read_image(out / (Path(first["file_name"]).stem + ".png"))
    assert drawn.shape[1] > 2 * first["width"] and drawn.shape[0] > first["height"]  # two panels + titles
    assert "wrote 2 image(s)" in capsys.readouterr().out


def test_show_carfusion_with_hidden_negative_points(shared_data, tmp_path):
    out = tmp_path / "show"
    with pytest.warns(UserWarning, match="0-based"):  # the file's skeleton is 0-based
        assert main(["show", "--gt", str(shared_data / CAR), "--out", str(out), "--names"]) == 0
    (name,) = _outputs(out)
    img = read_image(out / name)
    assert img.shape == (1080, 1920, 3)
    src = read_image(shared_data / "mmpose-carfusion-sample" / "17_28037.jpg")
    assert np.abs(img.astype(int) - src.astype(int)).max() > 100  # something was drawn


def _two_category_dataset(root: Path) -> Path:
    write_image(root / "imgs" / "a.png", np.full((120, 160, 3), 90, np.uint8))
    ds = {
        "images": [{"id": 1, "file_name": "a.png", "width": 160, "height": 120},
                   {"id": 2, "file_name": "gone.png", "width": 160, "height": 120}],
        "categories": [
            {"id": 1, "name": "square", "keypoints": ["tl", "tr", "br", "bl"], "skeleton": [[1, 2], [2, 3], [3, 4], [4, 1]]},
            {"id": 2, "name": "stick", "keypoints": ["top", "bottom"], "skeleton": [[1, 2]]}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500.0,
             "keypoints": [15, 15, 2, 55, 15, 2, 55, 55, 1, 15, 55, 2]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [100, 20, 10, 80], "area": 800.0,
             "keypoints": [105, 25, 2, 105, 95, 2]}],
    }
    path = root / "ann.json"
    path.write_text(json.dumps(ds))
    return path


def test_show_multi_category_and_missing_images(tmp_path, capsys):
    ann = _two_category_dataset(tmp_path)
    out = tmp_path / "show"
    rc = main(["show", "--gt", str(ann), "--out", str(out), "--images", str(tmp_path / "imgs"), "--format", "png"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "gone.png" in err and "image id 2" in err and "Traceback" not in err

    with pytest.warns(UserWarning, match="skipped 1 missing"):
        rc = main(["show", "--gt", str(ann), "--out", str(out), "--images", str(tmp_path / "imgs"),
                   "--format", "png", "--skip-missing"])
    assert rc == 0 and _outputs(out, "png") == ["a.png"]
    img = read_image(out / "a.png")
    colors = category_colors([1, 2])
    assert tuple(img[15, 15]) == colors[1] and tuple(img[25, 105]) == colors[2]
    index = (out / "index.html").read_text()
    assert "square" in index and "stick" in index


def test_bad_predictions_file_is_a_clear_error(tmp_path, capsys):
    ann = _two_category_dataset(tmp_path)
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([{"image_id": 1, "category_id": 2, "keypoints": [1, 2, 0.5], "score": 0.9}]))
    rc = main(["show", "--gt", str(ann), "--pred", str(pred), "--out", str(tmp_path / "o"),
               "--images", str(tmp_path / "imgs"), "--skip-missing"])
    assert rc == 2
    assert "pred.json, result #0, field 'keypoints': expected 6 numbers" in capsys.readouterr().err


def test_show_does_not_import_torch(shared_data, tmp_path):
    code = ("import sys\nfrom kpdet.cli import main\n"
            f"rc = main(['show', '--gt', {str(shared_data / COCO)!r}, '--out', {str(tmp_path / 'o')!r}, '--limit', '1'])\n"
            "assert rc == 0\nassert 'torch' not in sys.modules, 'torch was imported'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "index.html").is_file()
