import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import kpdet
from kpdet.errors import ConfigError, DataError, KpdetError


def _images(folder, n=3, size=(40, 30), seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = []
    for i in range(n):
        a = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"im{i}.png"), cv2.cvtColor(a, cv2.COLOR_RGB2BGR))
        arrays.append(a)
    return arrays


def _same(a, b):
    assert len(a) == len(b)
    for pa, pb in zip(a, b):
        assert pa.category_id == pb.category_id and pa.score == pb.score
        np.testing.assert_allclose(pa.keypoints, pb.keypoints, atol=1e-5)


def test_import_kpdet_stays_torch_free_and_exports_load():
    code = "import sys, kpdet; assert 'torch' not in sys.modules; assert callable(kpdet.load); print('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"
    with pytest.raises(AttributeError):
        kpdet.nothing_here


def test_paths_arrays_and_folder_give_the_same_predictions(toy_run, tmp_path):
    predictor = kpdet.load(toy_run("toy"), device="cpu")
    arrays = _images(tmp_path / "imgs")
    paths = sorted((tmp_path / "imgs").glob("*.png"))
    by_path = predictor.predict([str(p) for p in paths], batch_size=2)
    by_array = predictor.predict(arrays, batch_size=3)
    by_folder = predictor.predict(tmp_path / "imgs")
    mixed = predictor.predict([arrays[0], paths[1], str(paths[2])], batch_size=1)
    assert [len(r) for r in by_path] == [1, 1, 1]
    assert [r[0].image_id for r in by_path] == [1, 2, 3]
    for other in (by_array, by_folder, mixed):
        for a, b in zip(by_path, other):
            _same(a, b)
    # keypoints are in original image coordinates (toy decode: sigmoid·size − 0.5)
    kp = by_path[0][0].keypoints
    assert kp.shape == (3, 3) and (kp[:, 0] >= -0.5).all() and (kp[:, 0] <= 39.5).all()
    single = predictor.predict(arrays[1], image_ids=[7])
    assert single[0][0].image_id == 7
    _same(single[0], by_path[1])


def test_loading_the_checkpoint_file_or_last_gives_a_predictor(toy_run, tmp_path):
    run = toy_run("toy")
    arrays = _images(tmp_path / "i", n=1)
    a = kpdet.load(run / "best.pt", device="cpu").predict(arrays)
    b = kpdet.load(run, checkpoint="last", device="cpu").predict(arrays)
    assert len(a[0]) == len(b[0]) == 1  # one training epoch: best and last are the same weights
    _same(a[0], b[0])


def test_boxes_reach_the_method(toy_run, tmp_path):
    predictor = kpdet.load(toy_run("toybox"), device="cpu")
    arrays = _images(tmp_path / "imgs", n=2, size=(40, 30))
    whole = predictor.predict(arrays)  # default: one whole-image box per image and category
    assert [len(r) for r in whole] == [1, 1]
    np.testing.assert_allclose(whole[0][0].bbox, [-0.5, -0.5, 40, 30])
    per_image = predictor.predict(arrays, boxes=[[[2, 3, 20, 15], [10, 5, 25, 20, 0.4]], []])
    assert [len(r) for r in per_image] == [2, 0]
    np.testing.assert_allclose(per_image[0][1].bbox, [10, 5, 25, 20])
    assert per_image[0][1].score == pytest.approx(0.4) and per_image[0][0].score == 1.0
    kp = per_image[0][0].keypoints
    assert (kp[:, 0] >= 2).all() and (kp[:, 0] <= 22).all() and (kp[:, 1] >= 3).all() and (kp[:, 1] <= 18).all()
    det = tmp_path / "det.json"
    det.write_text(json.dumps([{"image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.9},
                               {"image_id": 5, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 0.9}]))
    from_file = predictor.predict(arrays, boxes=det)
    assert [len(r) for r in from_file] == [0, 1] and from_file[1][0].image_id == 2
    dicts = predictor.predict(arrays, boxes=[{"image_id": 1, "bbox": [0, 0, 8, 8], "score": 0.5}])
    assert [len(r) for r in dicts] == [1, 0] and dicts[0][0].category_id == 1


def test_bad_inputs_give_clear_errors(toy_run, tmp_path):
    predictor = kpdet.load(toy_run("toybox"), device="cpu")
    arrays = _images(tmp_path / "imgs", n=2)
    with pytest.raises(DataError, match="not found"):
        predictor.predict(tmp_path / "missing.png")
    (tmp_path / "broken.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match="broken.jpg.*could not be decoded"):
        predictor.predict([tmp_path / "broken.jpg"])
    with pytest.raises(DataError, match=r"array #0.*\(H, W, 3\) uint8"):
        predictor.predict(np.zeros((10, 10), np.float32))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no image files"):
        predictor.predict(tmp_path / "empty")
    with pytest.raises(DataError, match="one list of boxes per image"):
        predictor.predict(arrays, boxes=[[[0, 0, 5, 5]]])
    with pytest.raises(DataError, match="unknown category 3"):
        predictor.predict(arrays, boxes=[[{"bbox": [0, 0, 5, 5], "category_id": 3}], []])
    with pytest.raises(DataError, match="w, h > 0"):
        predictor.predict(arrays, boxes=[[[0, 0, -5, 5]], []])
    with pytest.raises(DataError, match="no detection matches"):
        predictor.predict(arrays, boxes=[{"image_id": 9, "bbox": [0, 0, 5, 5], "score": 1}])
    with pytest.raises(KpdetError, match="no such run directory"):
        kpdet.load(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="not a run directory"):
        kpdet.load(tmp_path / "imgs")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.yaml").write_text((toy_run("toy") / "config.yaml").read_text())
    with pytest.raises(KpdetError, match="has no checkpoint"):
        kpdet.load(bare)
    with pytest.raises(ConfigError, match="device 'tpu9'"):
        kpdet.load(toy_run("toy"), device="tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            kpdet.load(toy_run("toy"), device="cuda")
    assert predictor.predict([]) == []
    with pytest.raises(KpdetError, match="not a readable kpdet checkpoint"):
        kpdet.load(tmp_path / "broken.jpg")
