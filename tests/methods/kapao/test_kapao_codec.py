"""KAPAO targets → assignment → ideal logits → decoding returns the labels exactly; fusion."""

import numpy as np
import pytest
import torch

from kpdet.methods.kapao.config import InferenceConfig, KapaoConfig
from kpdet.methods.kapao.decode import Detections, fuse, raw_candidates, select
from kpdet.methods.kapao.layout import ClassLayout
from kpdet.methods.kapao.loss import assign, kapao_loss
from kpdet.methods.kapao.method import Kapao
from kpdet.methods.kapao.targets import KapaoTargets
from kpdet.nn.csp_pan import STRIDES
from kpdet.schema import KeypointSchema
from kpdet.structures import Instances, Sample

SCHEMA = KeypointSchema("thing", ("nose", "left_eye", "right_eye"), flip_pairs=((1, 2),))


def _sample(size=256):
    kps = np.array([[[60.3, 50.2, 2], [52.7, 44.1, 2], [70.2, 45.9, 1]],
                    [[180.4, 150.6, 2], [170.0, 140.2, 0], [195.3, 141.7, 2]]], np.float64)
    boxes = np.array([[40.0, 30.0, 45.0, 70.0], [150.0, 120.0, 60.0, 110.0]])
    inst = Instances(kps, boxes, np.array([1, 1]), boxes[:, 2] * boxes[:, 3], np.zeros(2, bool), np.arange(2))
    return Sample(np.zeros((size, size, 3), np.uint8), 7, inst, {"input_hw": (size, size)})


def _logit(p):
    return torch.logit(p.clamp(1e-6, 1 - 1e-6))


def test_targets_hold_pose_and_keypoint_objects():
    layout = ClassLayout.from_schemas({1: SCHEMA})
    labels = KapaoTargets(layout, kp_bbox=0.05)(_sample())["labels"]
    pose, kp = labels[labels[:, 0] == 0], labels[labels[:, 0] > 0]
    assert len(pose) == 2 and len(kp) == 5  # one keypoint of the 6 is unlabelled
    np.testing.assert_allclose(pose[0, 1:5], [40 + 22.5 + 0.5, 30 + 35 + 0.5, 45, 70], atol=1e-4)
    np.testing.assert_allclose(kp[:, 3:5], 0.05 * 256)
    assert np.all(kp[:, 5:] == 0)
    assert sorted(kp[:, 0].tolist()) == [1, 1, 2, 3, 3]


def test_ideal_logits_decode_to_the_labelled_keypoints_and_boxes():
    cfg = KapaoConfig(input_size=256, width_multiple=0.125, depth_multiple=0.33)
    method = Kapao(cfg, {1: SCHEMA}).eval()
    layout = method.layout
    labels = torch.as_tensor(KapaoTargets(layout, 0.05)(_sample())["labels"])
    labels = torch.cat([torch.zeros(len(labels), 1), labels], 1)
    nc = layout.num_classes
    grids = []
    for anc, s in zip(method.anchors, STRIDES):
        g = torch.full((1, 3, 256 // s, 256 // s, layout.num_outputs), -20.0)
        t = assign(labels, anc, s, g.shape[2:4], 4.0, True)
        idx = (t["b"], t["a"], t["gj"], t["gi"])
        g[idx + (slice(0, 2),)] = _logit((t["box"][:, :2] + 0.5) / 2)
        g[idx + (slice(2, 4),)] = _logit((t["box"][:, 2:] / t["anchor"]).sqrt() / 2)
        kp = (t["kxy"] / t["anchor"][:, None] + 2) / 4  # inverse of v̂ = anchor · (4σ − 2)
        pose_rows = t["cls"] == 0
        reachable = (((kp > 0) & (kp < 1)).all(-1) | ~t["kv"]).all(1)
        # pose rows whose keypoints the bounded offsets cannot reach stay below τcp
        g[idx + (4,)] = torch.where(pose_rows & ~reachable, -20.0, 20.0)
        g[idx + (slice(5, 5 + nc),)] = torch.where(torch.nn.functional.one_hot(t["cls"], nc) > 0, 20.0, -20.0)
        g[idx + (slice(5 + nc, None),)] = _logit(kp).reshape(len(kp), -1)
        grids.append(g)
    meta = [{"image_id": 7, "input_to_image": np.eye(3)[:2]}]
    preds = sorted(method.decode(grids, meta), key=lambda p: p.bbox[0])
    assert len(preds) == 2
    sample = _sample()
    for p, kps, box in zip(preds, sample.instances.keypoints, sample.instances.boxes):
        np.testing.assert_allclose(p.bbox, box, atol=1e-2)
        labelled = kps[:, 2] > 0
        np.testing.assert_allclose(p.keypoints[labelled, :2], kps[labelled, :2], atol=1e-2)
        assert np.all(p.keypoints[labelled, 2] > 0.99)  # every labelled keypoint came from a fused keypoint object


def test_fusion_takes_the_nearest_pose_and_the_most_confident_keypoint_object():
    kps = torch.tensor([[[10.0, 10, 0], [20, 10, 0]], [[100, 100, 0], [110, 100, 0]], [[12, 12, 0], [22, 12, 0]]])
    dets = Detections(image=torch.tensor([0, 0, 0]), pose_class=torch.tensor([0, 0, 0]),
                      score=torch.tensor([0.9, 0.8, 0.1]), box=torch.zeros(3, 4), keypoints=kps.clone())
    k_xy = torch.tensor([[13.0, 13], [11, 11], [104, 100], [60, 60], [21, 11]])
    k_conf = torch.tensor([0.7, 0.6, 0.9, 0.99, 0.5])
    k_index = torch.tensor([0, 0, 0, 0, 1])
    n = fuse(dets, torch.zeros(5, dtype=torch.long), torch.zeros(5, dtype=torch.long), k_index, k_xy, k_conf,
             fusion_conf=0.2, distance=10.0)
    assert n == 3
    out = dets.keypoints
    # pose 2 (score 0.1 < τfc) is never a target: both nose objects go to pose 0, the more confident wins
    assert out[0, 0].tolist() == pytest.approx([13, 13, 0.7])
    assert out[1, 0].tolist() == pytest.approx([104, 100, 0.9])
    assert out[0, 1].tolist() == pytest.approx([21, 11, 0.5])
    assert out[2].tolist() == kps[2].tolist() and out[1, 1].tolist() == kps[1, 1].tolist()


def test_keypoint_objects_of_another_image_are_not_fused():
    dets = Detections(torch.tensor([0]), torch.tensor([0]), torch.tensor([0.9]), torch.zeros(1, 4),
                      torch.tensor([[[10.0, 10, 0]]]))
    n = fuse(dets, torch.tensor([1]), torch.tensor([0]), torch.tensor([0]), torch.tensor([[10.0, 10]]),
             torch.tensor([0.9]), 0.2, 5.0)
    assert n == 0 and dets.keypoints[0, 0, 2] == 0


def test_loss_is_finite_and_zero_targets_only_train_objectness():
    layout = ClassLayout.from_schemas({1: SCHEMA})
    anchors = torch.tensor(KapaoConfig(input_size=256).anchor_pixels())
    grids = [torch.zeros(2, 3, 256 // s, 256 // s, layout.num_outputs, requires_grad=True) for s in STRIDES]
    terms = kapao_loss(grids, torch.zeros(0, 6 + 9), anchors, STRIDES, layout.num_classes, KapaoConfig().loss)
    assert terms["box"] == 0 and terms["kps"] == 0 and terms["obj"] > 0
    labels = torch.as_tensor(KapaoTargets(layout, 0.05)(_sample())["labels"])
    labels = torch.cat([torch.zeros(len(labels), 1), labels], 1)
    terms = kapao_loss(grids, labels, anchors, STRIDES, layout.num_classes, KapaoConfig().loss)
    assert all(torch.isfinite(v) and v > 0 for v in terms.values())
    sum(terms.values()).backward()
    assert grids[0].grad.abs().sum() > 0


def test_select_thresholds_drop_low_confidence_candidates():
    cand = {"image": torch.zeros(3, dtype=torch.long),
            "box": torch.tensor([[50.0, 50, 20, 20], [51, 51, 20, 20], [150, 150, 20, 20]]),
            "obj": torch.tensor([0.9, 0.8, 0.005]), "cls": torch.tensor([[1.0, 0], [1.0, 0], [1.0, 0]]),
            "kps": torch.zeros(3, 1, 2)}
    dets = select(cand, 1, torch.tensor([0, 0]), torch.tensor([-1, 0]), InferenceConfig(), 10.0, fusion=False)
    assert dets.score.tolist() == pytest.approx([0.9])  # NMS removes the overlapping 0.8, τcp the 0.005


def test_raw_candidates_place_a_centred_prediction_at_the_cell_centre():
    grids = [torch.zeros(1, 1, 64 // s, 64 // s, 5 + 1 + 2) for s in STRIDES]
    cand = raw_candidates(grids, torch.full((4, 1, 2), 8.0), 1)
    # σ(0) = 0.5 → offset 0.5 cell: cell (0, 0) of stride 8 is centred at pixel 3.5 (pixel-centre frame)
    assert cand["box"][0].tolist() == pytest.approx([3.5, 3.5, 8.0, 8.0])
    assert cand["kps"][0, 0].tolist() == pytest.approx([-0.5, -0.5])


def test_tta_predictions_are_in_image_coordinates_with_schema_keypoints():
    cfg = KapaoConfig(input_size=128, width_multiple=0.125, depth_multiple=0.33,
                      inference={"conf_pose": 0.0, "max_det": 5, "tta": True})
    torch.manual_seed(0)
    method = Kapao(cfg, {1: SCHEMA}).eval()
    meta = [{"image_id": 3, "input_to_image": np.array([[0.5, 0, 0], [0, 0.5, 0]])}]
    preds = method.predict_batch(torch.rand(1, 3, 128, 128), meta)
    assert 0 < len(preds) <= 5 and all(p.image_id == 3 and p.keypoints.shape == (3, 3) for p in preds)
    assert all(-20 < p.bbox[0] < 84 for p in preds)  # halved by input_to_image
