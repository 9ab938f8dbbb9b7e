"""CCM's training strategies (Sec. 4) from the config: hard negatives, pseudo-labels, joint training
through a keypoint mapping, fine-tune initialisation; and pose NMS as the method's postprocess."""

import json

import numpy as np
import pytest
import torch

from kpdet.data.coco import load_coco
from kpdet.engine.checkpoint import save_checkpoint
from kpdet.errors import ConfigError
from kpdet.methods import get_method
from kpdet.methods.topdown.strategies import mine_hard_negatives, pseudo_label_coco, remap_coco
from kpdet.schema import COCO17, KeypointSchema
from kpdet.structures import Prediction

SMALL = {"name": "topdown", "backbone": "resnet10t", "input_size": [64, 32], "deconv_channels": [8, 8, 8],
         "sigma": 1.0, "decoder": {"flip_test": False}}
AIC = KeypointSchema("aic", ("right_shoulder", "right_elbow", "head_top", "neck", "left_shoulder"))


@pytest.fixture
def coco(tiny_coco):
    return load_coco(tiny_coco(n_images=3, schema=COCO17, size=(128, 96), instances=1))


def _write(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def _far_box(coco, image_id):
    img = coco.image_by_id[image_id]
    x, y, w, h = coco.anns_by_image[image_id][0]["bbox"]
    # the widest free strip beside the person
    if x > img["width"] - (x + w):
        return [0.0, 0.0, max(x - 1, 1.0), float(img["height"])]
    return [x + w + 1, 0.0, max(img["width"] - x - w - 2, 1.0), float(img["height"])]


def test_mining_keeps_confident_detections_that_touch_no_person(coco):
    iid = coco.images[0]["id"]
    gt = coco.anns_by_image[iid][0]["bbox"]
    far = _far_box(coco, iid)
    dets = [{"image_id": iid, "category_id": 1, "bbox": far, "score": 0.8},  # hard negative
            {"image_id": iid, "category_id": 1, "bbox": far, "score": 0.3},  # below τ
            {"image_id": iid, "category_id": 1, "bbox": [gt[0] + 2, gt[1] + 2, 5, 5], "score": 0.9}]  # overlaps
    neg = mine_hard_negatives(coco, dets, 0.5)
    assert len(neg) == 1 and neg[0]["score"] == 0.8
    assert len(mine_hard_negatives(coco, dets, 0.2)) == 2


def test_hard_negative_crops_have_supervised_zero_heatmaps(coco, tmp_path):
    iid = coco.images[0]["id"]
    dets = _write(tmp_path, "dets.json", [{"image_id": iid, "category_id": 1, "bbox": _far_box(coco, iid),
                                           "score": 0.9}])
    m = get_method("topdown").from_config({**SMALL, "strategies": {"hard_negatives": {"detections": dets}}},
                                          coco.schemas)
    plain = get_method("topdown").from_config(SMALL, coco.schemas)
    ds = m.build_dataset(coco, train=True)
    assert len(ds) == len(plain.build_dataset(coco, train=True)) + 1
    image, targets, meta = ds[len(ds) - 1]
    assert meta["hard_negative"] and targets["heatmap"].max() == 0 and targets["weight"].sum() == 17
    images, batch, _ = m.collate([ds[0], ds[len(ds) - 1]])
    assert m.loss(m(images), batch)["heatmap"] > 0  # zeros are supervised, not masked


def test_pseudo_labels_keep_keypoints_scored_above_threshold(coco):
    iid = coco.images[1]["id"]
    kp = np.zeros((17, 3))
    kp[:, :2] = 10.0
    kp[:, 2] = 0.5
    kp[[0, 5, 6], 2] = [0.95, 0.91, 0.9]  # 0.9 itself is not > 0.9
    preds = [{"image_id": iid, "category_id": 1, "keypoints": kp.reshape(-1).tolist(), "score": 0.8,
              "bbox": [1, 2, 30, 40]},
             {"image_id": iid, "category_id": 1, "keypoints": np.zeros(51).tolist(), "score": 0.9}]
    out = pseudo_label_coco(coco, preds, 0.9)
    assert len(out.annotations) == 1
    v = np.asarray(out.annotations[0]["keypoints"]).reshape(17, 3)[:, 2]
    assert np.nonzero(v)[0].tolist() == [0, 5] and set(v[v > 0]) == {2.0}
    assert out.annotations[0]["bbox"] == [1, 2, 30, 40]


def test_pseudo_labels_from_config_extend_the_training_set(coco, tmp_path):
    images = _write(tmp_path, "unlabelled.json", {"images": coco.images, "annotations": [],
                                                  "categories": coco.categories})
    (tmp_path / coco.images[0]["file_name"]).write_bytes((coco.root / coco.images[0]["file_name"]).read_bytes())
    kp = np.asarray(coco.anns_by_image[coco.images[0]["id"]][0]["keypoints"], float).reshape(17, 3)
    kp[:, 2] = 0.95
    preds = _write(tmp_path, "teacher.json", [{"image_id": coco.images[0]["id"], "category_id": 1,
                                               "keypoints": kp.reshape(-1).tolist(), "score": 0.9}])
    cfg = {**SMALL, "strategies": {"pseudo_labels": {"images": images, "predictions": preds}}}
    ds = get_method("topdown").from_config(cfg, coco.schemas).build_dataset(coco, train=True)
    _, targets, _ = ds[len(ds) - 1]
    assert targets["weight"].sum() > 0
    with pytest.raises(ConfigError, match="both"):
        get_method("topdown").from_config({**SMALL, "strategies": {"pseudo_labels": {"images": images}}},
                                          coco.schemas).build_dataset(coco, train=True)


def test_joint_training_maps_shared_keypoints_and_masks_the_rest(coco, tiny_coco, tmp_path):
    aic = load_coco(tiny_coco("aic", n_images=2, schema=AIC, size=(96, 128)))
    mapping = {"right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "left_shoulder": "left_shoulder"}
    out = remap_coco(aic, COCO17, coco.category_by_id[1], 1, mapping)
    src = np.asarray(aic.annotations[0]["keypoints"]).reshape(5, 3)
    dst = np.asarray(out.annotations[0]["keypoints"]).reshape(17, 3)
    assert np.array_equal(dst[COCO17.keypoints.index("right_elbow")], src[1])
    assert np.array_equal(dst[COCO17.keypoints.index("left_shoulder")], src[4])
    assert (dst[:, 2] > 0).sum() == (src[[0, 1, 4], 2] > 0).sum()  # head_top, neck have no counterpart
    with pytest.raises(ConfigError, match="unknown keypoints"):
        remap_coco(aic, COCO17, coco.category_by_id[1], 1, {"nose": "chin"})
    cfg = {**SMALL, "strategies": {"extra_datasets": [{"annotations": str(aic.source), "keypoint_map": mapping}]}}
    ds = get_method("topdown").from_config(cfg, coco.schemas).build_dataset(coco, train=True)
    _, targets, _ = ds[len(ds) - 1]
    assert 0 < targets["weight"].sum() <= 3


def test_fine_tune_init_loads_matching_weights_only(coco, tmp_path):
    torch.manual_seed(0)
    other = get_method("topdown").from_config(SMALL, {1: AIC})  # another keypoint set: final layer differs
    path = tmp_path / "teacher.pt"
    save_checkpoint(path, {"method": "topdown", "model": other.state_dict(), "categories": []})
    m = get_method("topdown").from_config({**SMALL, "strategies": {"init_weights": str(path)}}, coco.schemas)
    assert torch.equal(m.net.head[0].weight, other.net.head[0].weight)
    assert m.net.final.weight.shape[0] == 17 and m.init_report["skipped"] == 2


def test_postprocess_soft_nms_fuses_duplicate_poses(coco):
    m = get_method("topdown").from_config({**SMALL, "decoder": {"flip_test": False, "nms": "soft"}}, coco.schemas)
    kp = np.zeros((17, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = np.arange(17) * 3.0, 40.0, 1.0
    dup = kp.copy()
    dup[:, 0] += 1.0
    box = np.array([0.0, 0.0, 60.0, 80.0])
    preds = [Prediction(1, 1, kp, 0.9, box), Prediction(1, 1, dup, 0.8, box), Prediction(2, 1, dup, 0.5, box)]
    out = m.postprocess(preds)
    assert [(p.image_id, p.score) for p in out] == [(1, 0.9), (2, 0.5)]
    assert 0.0 < out[0].keypoints[0, 0] < 1.0  # pulled towards the suppressed duplicate (Eq. 24)
    hard = get_method("topdown").from_config({**SMALL, "decoder": {"flip_test": False, "nms": "oks"}}, coco.schemas)
    assert hard.postprocess(preds)[0].keypoints[0, 0] == 0.0
