import json

import cv2
import numpy as np

from kpdet.cli import main
from kpdet.data.coco import load_coco
from kpdet.structures import Prediction


def _folder(folder, n=3, size=(40, 30)):
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"f{i}.jpg"), rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    return folder


def _video(path, frames=12, size=(48, 32)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def _frame_count(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_predict_folder_writes_coco_results_images_and_overlays(toy_run, tmp_path, capsys):
    imgs = _folder(tmp_path / "imgs")
    out = tmp_path / "out"
    assert main(["predict", str(toy_run("toybox")), "--images", str(imgs), "--out", str(out),
                 "--device", "cpu", "--batch-size", "2"]) == 0
    assert "3 predictions on 3 image(s)" in capsys.readouterr().out
    preds = [Prediction.from_coco(d) for d in json.loads((out / "predictions.json").read_text())]
    assert sorted(p.image_id for p in preds) == [1, 2, 3] and all(p.bbox is not None for p in preds)
    index = load_coco(out / "images.json")  # a valid COCO file that traces ids back to files
    assert [img["file_name"] for img in index.images] == ["f0.jpg", "f1.jpg", "f2.jpg"]
    assert index.image_path(2) == (imgs / "f1.jpg").resolve()
    assert index.schemas[1].keypoints == ("a", "b", "c")
    overlay = cv2.imread(str(out / "overlays" / "f1.jpg"))
    assert overlay is not None and overlay.shape == (30, 40, 3)
    assert not np.array_equal(overlay, cv2.imread(str(imgs / "f1.jpg")))  # something was drawn


def test_predict_single_image_with_boxes_and_no_draw(toy_run, tmp_path):
    imgs = _folder(tmp_path / "imgs", n=2)
    det = tmp_path / "det.json"
    det.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10], "score": 0.8},
                               {"image_id": 1, "category_id": 1, "bbox": [5, 5, 20, 12], "score": 0.6}]))
    out = tmp_path / "out"
    assert main(["predict", str(toy_run("toybox")), "--images", str(imgs / "f1.jpg"), "--out", str(out),
                 "--boxes", str(det), "--no-draw", "--checkpoint", "last"]) == 0
    preds = json.loads((out / "predictions.json").read_text())
    assert [p["bbox"] for p in preds] == [[1, 2, 10, 10], [5, 5, 20, 12]]
    assert [p["score"] for p in preds] == [0.8, 0.6]
    assert not (out / "overlays").exists()


def test_predict_video_writes_annotated_video_and_frames_jsonl(toy_run, tmp_path, capsys):
    video = _video(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    assert main(["predict", str(toy_run("toy")), "--images", str(video), "--out", str(out),
                 "--batch-size", "5"]) == 0
    assert "12 frames" in capsys.readouterr().out
    lines = [json.loads(ln) for ln in (out / "frames.jsonl").read_text().splitlines()]
    assert [ln["frame"] for ln in lines] == list(range(12))
    assert all(len(ln["predictions"]) == 1 and ln["predictions"][0]["image_id"] == ln["frame"] for ln in lines)
    assert lines[3]["time_s"] == 0.3
    assert _frame_count(out / "clip_pred.mp4") == 12
    meta = json.loads((out / "video.json").read_text())
    assert (meta["frames"], meta["width"], meta["height"]) == (12, 48, 32)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_predict_bad_inputs_print_clear_errors(toy_run, tmp_path, capsys):
    run = str(toy_run("toy"))
    out = str(tmp_path / "out")
    assert main(["predict", run, "--images", str(tmp_path / "nothing"), "--out", out]) == 2
    assert "nothing: not found" in capsys.readouterr().err
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all")
    assert main(["predict", run, "--images", str(tmp_path / "bad.mp4"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "bad.mp4" in err and ("could not be opened" in err or "no frame could be decoded" in err)
    assert not (tmp_path / "out" / "bad_pred.mp4").exists()
    (tmp_path / "bad.png").write_bytes(b"nope")
    assert main(["predict", run, "--images", str(tmp_path / "bad.png"), "--out", out]) == 2
    assert "bad.png: image could not be decoded" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "--images", str(tmp_path / "bad.png"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and "Traceback" not in err
    assert main(["predict", run, "--images", str(tmp_path / "bad.png"), "--out", out, "--batch-size", "0"]) == 2
    assert "--batch-size must be at least 1" in capsys.readouterr().err
