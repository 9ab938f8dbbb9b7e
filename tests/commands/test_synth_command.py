"""`kpdet synth` through the CLI entry point, without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kpdet.cli import main
from kpdet.data.coco import load_coco

ROOT = Path(__file__).resolve().parents[2]


def test_cli_writes_a_loadable_dataset_without_torch(tmp_path):
    code = (
        "import sys; from kpdet.cli import main; "
        f"rc = main(['synth', 'figures', '--out', {str(tmp_path / 'f')!r}, '--num-images', '2', '--seed', '3', "
        "'--size', '96', '--people', '1:3', '--crowding', '0.8', '--occlusion', 'L1']); "
        "assert rc == 0, rc; assert 'torch' not in sys.modules, 'synth imported torch'"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
    ds = load_coco(tmp_path / "f" / "annotations.json")
    assert len(ds.images) == 2 and ds.categories[0]["name"] == "person"
    assert all(a["occlusion_level"] == 1 for a in ds.annotations)
    assert ds.extra["info"]["seed"] == 3


def test_cli_objects_subset_and_jpeg(tmp_path):
    rc = main(["synth", "objects", "--out", str(tmp_path), "--num-images", "2", "--size", "96",
               "--categories", "car,mug", "--format", "jpg", "--objects", "2:2"])
    assert rc == 0
    obj = json.loads((tmp_path / "annotations.json").read_text())
    assert [c["name"] for c in obj["categories"]] == ["car", "mug"]
    assert {c["id"] for c in obj["categories"]} == {4, 6}, "a subset keeps the ids of the full list"
    assert all(a["category_id"] in (4, 6) for a in obj["annotations"])
    assert all(img["file_name"].endswith(".jpg") and (tmp_path / img["file_name"]).is_file() for img in obj["images"])


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main(["synth", "objects", "--out", str(tmp_path), "--num-images", "1", "--categories", "boat"]) == 2
    assert "unknown boat" in capsys.readouterr().err
    assert main(["synth", "figures", "--out", str(tmp_path), "--num-images", "1", "--crowding", "2"]) == 2
