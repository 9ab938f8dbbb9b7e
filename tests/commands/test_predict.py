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


def _crossing_boxes(frames, size=(96, 64)):
    """Two 20×24 boxes crossing each other on one line: A goes right, B goes left (0-based frame ids)."""
    dets = []
    for f in range(frames):
        for name, x in (("A", 4 + 6 * f), ("B", 72 - 6 * f)):
            dets.append({"image_id": f, "category_id": 1, "bbox": [float(x), 20.0, 20.0, 24.0], "score": 0.9,
                         "name": name})
    return dets


def test_predict_video_with_tracking_and_smoothing(toy_run, tmp_path, capsys):
    frames = 12
    video = _video(tmp_path / "walk.mp4", frames=frames, size=(96, 64))
    dets = _crossing_boxes(frames)
    det = tmp_path / "det.json"
    det.write_text(json.dumps(dets))
    run = str(toy_run("toybox"))
    out, raw_out = tmp_path / "out", tmp_path / "raw"
    assert main(["predict", run, "--images", str(video), "--out", str(out), "--boxes", str(det), "--batch-size", "5",
                 "--track", "--smooth", "one-euro", "--min-cutoff", "0.5", "--beta", "0.0"]) == 0
    text = capsys.readouterr()
    assert "12 frames in" in text.out and "frames/s" in text.out and "2 track(s)" in text.out
    assert "frame/s" in text.err  # the progress bar's rate
    assert _frame_count(out / "walk_pred.mp4") == frames
    meta = json.loads((out / "video.json").read_text())
    assert meta["tracking"]["tracks"] == 2 and meta["smoothing"]["filter"] == "one-euro"

    lines = [json.loads(ln) for ln in (out / "frames.jsonl").read_text().splitlines()]
    box_name = {(d["image_id"], tuple(d["bbox"])): d["name"] for d in dets}
    ids = {"A": set(), "B": set()}
    for ln in lines:
        assert len(ln["predictions"]) == 2
        for p in ln["predictions"]:
            ids[box_name[(ln["frame"], tuple(p["bbox"]))]].add(p["track_id"])
    assert ids == {"A": {1}, "B": {2}}  # each box keeps its id through the crossing (frames 5 and 6)

    assert main(["predict", run, "--images", str(video), "--out", str(raw_out), "--boxes", str(det),
                 "--no-draw", "--track"]) == 0
    raw = [json.loads(ln) for ln in (raw_out / "frames.jsonl").read_text().splitlines()]

    def track(rows, tid):  # (T, K*3) keypoints of one track
        return np.array([[p["keypoints"] for p in r["predictions"] if p["track_id"] == tid][0] for r in rows])

    smooth, plain = track(lines, 1), track(raw, 1)
    np.testing.assert_allclose(smooth[0], plain[0], atol=1e-3)  # the filter starts at the first value
    assert np.abs(smooth[1:, 0] - plain[1:, 0]).max() > 1.0  # later frames are filtered ...
    np.testing.assert_allclose(smooth[:, 2::3], plain[:, 2::3])  # ... in x, y only, not in scores
    assert not (raw_out / "walk_pred.mp4").exists()


def test_track_and_smooth_options_are_checked(toy_run, tmp_path, capsys):
    run, out = str(toy_run("toy")), str(tmp_path / "out")
    imgs = _folder(tmp_path / "imgs", n=1)
    assert main(["predict", run, "--images", str(imgs), "--out", out, "--track"]) == 2
    assert "--track and --smooth apply to a video" in capsys.readouterr().err
    video = _video(tmp_path / "v.mp4", frames=2)
    assert main(["predict", run, "--images", str(video), "--out", out, "--smooth", "one-euro", "--beta", "-1"]) == 2
    assert "beta must be >= 0" in capsys.readouterr().err
    assert main(["predict", run, "--images", str(video), "--out", out, "--track", "--track-max-lost", "-2"]) == 2
    assert "--track-max-lost must be >= 0" in capsys.readouterr().err
