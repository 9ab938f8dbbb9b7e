import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kpdet.cli import main
from kpdet.data.coco import load_coco
from kpdet.data.split import parse_ranges, split_coco, write_split
from kpdet.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


def test_parse_ranges():
    assert parse_ranges("train=0:90,test=90:116") == {"train": slice(0, 90), "test": slice(90, 116)}
    assert parse_ranges(" a=:3 , b=3: ") == {"a": slice(None, 3), "b": slice(3, None)}
    for bad in ("train", "train=5", "=0:3", "a=0:3,a=3:4", "a/b=0:1", "a=x:3", "a=-2:", ".=0:1"):
        with pytest.raises(ValueError):
            parse_ranges(bad)


def test_split_keeps_order_annotations_and_resolvable_paths(tiny_coco, tmp_path):
    ann = tiny_coco(n_images=6, instances=2)
    ds = load_coco(ann)
    out_dir = tmp_path / "elsewhere" / "split"
    paths = write_split(ds, parse_ranges("train=0:4,test=4:"), out_dir)
    assert set(paths) == {"train", "test"}
    train, test = load_coco(paths["train"]), load_coco(paths["test"])
    assert [i["id"] for i in train.images] == [1, 2, 3, 4]
    assert [i["id"] for i in test.images] == [5, 6]
    assert {a["image_id"] for a in test.annotations} == {5, 6} and len(test.annotations) == 4
    assert train.categories == ds.categories
    for sub in (train, test):  # the images resolve from the new folder with load_coco's defaults
        for img in sub.images:
            assert sub.image_path(img["id"]).resolve() == ds.image_path(img["id"]).resolve()
            assert sub.image_path(img["id"]).is_file()
        assert not Path(sub.images[0]["file_name"]).is_absolute()


def test_split_follows_an_image_root(tiny_coco, tmp_path):
    ann = tiny_coco(n_images=3)
    moved = tmp_path / "ann_only.json"
    moved.write_text(ann.read_text())
    ds = load_coco(moved, image_root=ann.parent)
    sub = split_coco(ds, {"a": slice(0, 2)}, tmp_path / "out")["a"]
    assert "image_root" not in sub
    assert (tmp_path / "out" / sub["images"][1]["file_name"]).resolve() == (ann.parent / "img001.png").resolve()


@pytest.mark.parametrize("ranges, message", [
    ("a=0:7", "ends at image 7 but the file has 6 images"),
    ("a=3:3", "selects no image"),
    ("a=0:4,b=3:6", "overlap"),
])
def test_bad_ranges_name_the_file_and_write_nothing(tiny_coco, tmp_path, ranges, message):
    ds = load_coco(tiny_coco(n_images=6))
    with pytest.raises(DataError, match=message) as e:
        write_split(ds, parse_ranges(ranges), tmp_path / "out")
    assert "ann.json" in str(e.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_split_command_without_torch(tiny_coco, tmp_path):
    ann = tiny_coco(n_images=5)
    out = tmp_path / "out"
    code = (
        "import sys\n"
        "from kpdet.cli import main\n"
        f"rc = main(['split', {str(ann)!r}, '--out-dir', {str(out)!r}, '--ranges', 'train=0:3,test=3:5'])\n"
        "assert rc == 0, rc\n"
        "assert 'torch' not in sys.modules, 'kpdet split imported torch'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "train, 3 images, 3 instances" in proc.stdout and "test, 2 images, 2 instances" in proc.stdout
    assert len(json.loads((out / "test.json").read_text())["images"]) == 2


def test_split_command_errors(tiny_coco, tmp_path, capsys):
    ann = tiny_coco(n_images=5)
    rc = main(["split", str(ann), "--out-dir", str(tmp_path / "o"), "--ranges", "train=0:9"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "kpdet split: error:" in err and "the file has 5 images" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["split", str(ann), "--out-dir", str(tmp_path / "o"), "--ranges", "train:0:9"])
    assert "expected NAME=START:STOP" in capsys.readouterr().err


def test_dlc_openfield_split_is_in_frame_order(shared_data, tmp_path):
    out = tmp_path / "dlc"
    assert main(["convert", "dlc", str(shared_data / "dlc-openfield-Pranav-2018-10-30"),
                 "--out", str(out / "all.json")]) == 0
    assert main(["split", str(out / "all.json"), "--out-dir", str(out / "s"),
                 "--ranges", "train=0:90,test=90:116"]) == 0
    test = load_coco(out / "s" / "test.json")
    names = [Path(i["file_name"]).name for i in test.images]
    assert names[0] == "img0090.png" and names[-1] == "img0115.png" and len(names) == 26
    assert test.image_path(test.images[0]["id"]).is_file()


def test_prepare_real_data_script_writes_the_preset_splits(shared_data, tmp_path):
    """scripts/prepare_real_data.sh gives the files configs/topdown/{dlc_openfield,face_dfi}.yaml read."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KPDET_SHARED_DATA": str(shared_data),
           "KPDET": f"{sys.executable} -m kpdet.cli"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "prepare_real_data.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    expected = {"dlc-openfield": (90, 26, "img0000.png", "img0090.png"), "face-dfi": (640, 160, "1.jpg", "641.jpg")}
    for name, (n_train, n_test, first_train, first_test) in expected.items():
        train = load_coco(tmp_path / "data" / name / "train.json")
        test = load_coco(tmp_path / "data" / name / "test.json")
        assert (len(train.images), len(test.images)) == (n_train, n_test)
        assert Path(train.images[0]["file_name"]).name == first_train
        assert Path(test.images[0]["file_name"]).name == first_test
        assert test.image_path(test.images[-1]["id"]).is_file()
