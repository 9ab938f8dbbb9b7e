"""`--boxes-from RUN`: the boxes of a run whose predictions carry boxes (here a kapao run) feed a
top-down run in `kpdet test` and `kpdet predict`, end to end on two tiny, barely trained runs."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from kpdet.api import Predictor, load
from kpdet.cli import main
from kpdet.config import load_config
from kpdet.engine.box_source import check_same_keypoints
from kpdet.engine.trainer import train
from kpdet.errors import ConfigError
from kpdet.methods.kapao.config import KapaoConfig
from kpdet.methods.kapao.method import Kapao
from kpdet.schema import KeypointSchema

DOTS = KeypointSchema("dots", ("a", "b", "c"), sigmas=(0.1, 0.1, 0.1))
DETECTOR = ["method.name=kapao", "method.input_size=64", "method.width_multiple=0.125",
            "method.depth_multiple=0.33", "method.inference.conf_pose=0.0", "method.inference.max_det=2",
            "method.augment.mosaic_prob=0.0"]
TOPDOWN = ["method.name=topdown", "method.backbone=resnet18", "method.input_size=[64, 64]",
           "method.deconv_channels=[16, 16, 16]", "method.decoder.flip_test=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 3-image COCO set and two runs trained for one step on it: (data, kapao run, top-down run)."""
    from _tiny_coco import write_tiny_coco

    root = tmp_path_factory.mktemp("boxes_from")
    data = write_tiny_coco(root / "data", n_images=3, schema=DOTS, size=(64, 56), name="ann.json")
    out = []
    for name, overrides in (("kapao", DETECTOR), ("topdown", TOPDOWN)):
        torch.manual_seed(0)
        cfg = load_config(None, [*overrides, f"data.train={data}", f"data.val={data}", "train.epochs=1",
                                 "train.batch_size=4", "train.num_workers=0", "train.eval_every=0"])
        train(cfg, root / name)
        out.append(root / name)
    return data, *out


def _rounded(bbox):
    return tuple(round(float(v), 3) for v in bbox)  # as Prediction.to_coco writes it


def _kapao_boxes(run, data):
    from kpdet.data.coco import load_coco

    method = load(run, device="cpu").method
    coco = load_coco(data)
    ds = method.build_dataset(coco, train=False)
    preds = []
    for i in range(len(ds)):
        images, _, meta = method.collate([ds[i]])
        preds.extend(method.predict_batch(images, meta))
    return preds


def test_test_takes_the_detector_runs_boxes(runs, tmp_path, capsys):
    data, kapao, topdown = runs
    out = tmp_path / "preds.json"
    assert main(["test", str(topdown), "--boxes-from", str(kapao), "--predictions", str(out)]) == 0
    assert "6 boxes from" in capsys.readouterr().out  # max_det 2 on each of 3 images
    preds = json.loads(out.read_text())
    expected = sorted((p.image_id, _rounded(p.bbox)) for p in _kapao_boxes(kapao, data))
    assert sorted((p["image_id"], tuple(p["bbox"])) for p in preds) == expected
    # the same as the detections JSON path
    det = tmp_path / "det.json"
    det.write_text(json.dumps([p.to_coco() for p in _kapao_boxes(kapao, data)]))
    out2 = tmp_path / "preds2.json"
    assert main(["test", str(topdown), "--boxes", str(det), "--predictions", str(out2)]) == 0
    assert json.loads(out2.read_text()) == preds


def test_predict_takes_the_detector_runs_boxes_with_scores(runs, tmp_path):
    data, kapao, topdown = runs
    out = tmp_path / "out"
    assert main(["predict", str(topdown), "--images", str(data.parent), "--out", str(out), "--no-draw",
                 "--device", "cpu", "--boxes-from", str(kapao)]) == 0
    preds = json.loads((out / "predictions.json").read_text())
    boxes = load(kapao, device="cpu").predict(sorted(data.parent.glob("*.png")))
    expected = sorted((i + 1, _rounded(p.bbox)) for i, ps in enumerate(boxes) for p in ps)
    assert len(expected) == 6 and sorted((p["image_id"], tuple(p["bbox"])) for p in preds) == expected
    # the top-down model gets the boxes with their scores
    consumer, seen = load(topdown, device="cpu"), []
    build = consumer.method.build_dataset
    consumer.method.build_dataset = lambda coco, train, boxes=None: seen.extend(boxes) or build(coco, train=train,
                                                                                                boxes=boxes)
    consumer.predict(sorted(data.parent.glob("*.png")), boxes=load(kapao, device="cpu"))
    given = sorted((d["image_id"], d["category_id"], tuple(d["bbox"]), d["score"]) for d in seen)
    assert given == sorted((i + 1, p.category_id, _rounded(p.bbox), p.score) for i, ps in enumerate(boxes) for p in ps)
    assert len({d["score"] for d in seen}) > 1


class _NoBoxes(Kapao):
    """A method whose predictions carry no box."""

    def to_predictions(self, dets, meta):
        return [dataclasses.replace(p, bbox=None) for p in super().to_predictions(dets, meta)]


def test_a_run_without_boxes_or_with_other_keypoints_is_a_clear_error(runs, tmp_path, capsys):
    data, kapao, topdown = runs
    assert main(["predict", str(topdown), "--images", str(data.parent), "--out", str(tmp_path / "o"),
                 "--boxes-from", str(kapao), "--boxes", "x.json"]) == 2
    assert "give one of them" in capsys.readouterr().err
    consumer = load(topdown, device="cpu")
    cfg = KapaoConfig(input_size=64, width_multiple=0.125, inference={"conf_pose": 0.0, "max_det": 2})
    no_boxes = Predictor(_NoBoxes(cfg, {1: DOTS}), device="cpu")
    with pytest.raises(ConfigError, match="its method 'kapao' gives predictions without boxes"):
        consumer.predict(str(data.parent), boxes=no_boxes)
    other = Predictor(Kapao(cfg, {1: KeypointSchema("pair", ("left", "right"))}), device="cpu")
    with pytest.raises(ConfigError, match=r"category 1: 2 keypoints \(left, right\)\] differ from the model's "
                                          r"\[category 1: 3 keypoints \(a, b, c\)\]"):
        consumer.predict(str(data.parent), boxes=other)
    five = {1: KeypointSchema("five", tuple("abcde"))}
    with pytest.raises(ConfigError, match="differ"):
        check_same_keypoints(five, {1: DOTS, 2: DOTS}, "x")


def test_predict_on_a_video_takes_the_detector_boxes_of_each_frame(runs, tmp_path):
    import cv2

    data, kapao, topdown = runs
    frames = [cv2.imread(str(p)) for p in sorted(data.parent.glob("*.png"))]
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 56))
    for f in frames:
        writer.write(f)
    writer.release()
    out = tmp_path / "out"
    assert main(["predict", str(topdown), "--images", str(video), "--out", str(out), "--no-draw",
                 "--device", "cpu", "--batch-size", "2", "--boxes-from", str(kapao)]) == 0
    lines = [json.loads(ln) for ln in (out / "frames.jsonl").read_text().splitlines()]
    assert [ln["frame"] for ln in lines] == [0, 1, 2]
    assert all(len(ln["predictions"]) == 2 and {p["image_id"] for p in ln["predictions"]} == {ln["frame"]}
               for ln in lines)  # max_det 2 boxes per frame, each cropped once
