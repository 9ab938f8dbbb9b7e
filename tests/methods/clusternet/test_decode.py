"""Encode → ideal network outputs → decode round trips, and the grouping on hand-made peaks."""

import numpy as np
import pytest
import torch

from kpdet.methods import get_method
from kpdet.methods.clusternet.grouping import TagGrouper, top_peaks
from kpdet.schema import COCO17
from kpdet.structures import Instances, Sample

TINY = {"name": "clusternet", "input_size": [64, 64], "stem_stride": 2, "channels": 8, "hourglass_depth": 2,
        "num_stacks": 2, "dense_clusters": [1, 3], "sparse_clusters": [5, 17]}


def method(**decoder):
    return get_method("clusternet").from_config({**TINY, "decoder": {"flip_test": False, **decoder}}, {1: COCO17})


def people(rng, n, size=64):
    kps = np.zeros((n, 17, 3))
    for i in range(n):
        kps[i, :, 0] = rng.uniform(4, size - 5, 17)
        kps[i, :, 1] = rng.uniform(4, size - 5, 17)
        kps[i, :, 2] = 2
    return kps


def sample(kps, crowd_box=None):
    n = len(kps)
    boxes = np.array([[k[:, 0].min(), k[:, 1].min(), np.ptp(k[:, 0]), np.ptp(k[:, 1])] for k in kps])
    iscrowd = np.zeros(n, bool)
    if crowd_box is not None:
        kps = np.concatenate([kps, np.zeros((1, 17, 3))])
        boxes = np.concatenate([boxes, [crowd_box]])
        iscrowd = np.append(iscrowd, True)
    inst = Instances(kps, boxes, np.ones(len(kps), np.int64), np.ones(len(kps)), iscrowd, np.arange(len(kps)))
    return Sample(np.zeros((64, 64, 3), np.uint8), 1, inst)


def test_targets_peaks_joints_and_crowd_mask():
    m = method()
    kps = people(np.random.default_rng(0), 2)
    kps[1, 3, 2] = 0  # unlabelled: no tag supervision
    t = m.encode(sample(kps, crowd_box=[0, 0, 10, 10]))
    assert t["heatmap"].shape == (17, 32, 32) and t["joints"].shape == (30, 17, 2)
    assert t["joints"][:2, :, 1].sum() == 33 and t["joints"][2:].sum() == 0
    y, x = divmod(int(t["joints"][0, 5, 0]), 32)
    assert t["heatmap"][5, y, x] > 0.8
    assert t["mask"][0, 0] == 0 and t["mask"][2, 2] == 0 and t["mask"][20, 20] == 1


def ideal_outputs(m, kps, tags_per_person):
    """Heatmaps from the targets and tag maps holding each person's tag around its keypoints."""
    t = m.encode(sample(kps))
    heat = torch.as_tensor(t["heatmap"])[None]  # (1, 17, 32, 32)
    tags = torch.zeros(1, 17, 1, 32, 32)
    for p, tag in enumerate(tags_per_person):
        for k in range(17):
            y, x = divmod(int(t["joints"][p, k, 0]), 32)
            tags[0, k, 0, max(y - 1, 0): y + 2, max(x - 1, 0): x + 2] = tag
    return heat, tags


@pytest.mark.parametrize("n", [1, 3])
def test_round_trip_groups_and_locates(n):
    rng = np.random.default_rng(n)
    m = method(refine="log_quadratic")
    kps = people(rng, n)
    # keep people's same-type keypoints apart so that each peak is resolvable
    for k in range(17):
        kps[:, k, 0] = np.linspace(6, 58, n) if n > 1 else kps[:, k, 0]
    heat, tags = ideal_outputs(m, kps, [10.0 * (p + 1) for p in range(n)])
    meta = [{"image_id": 7, "input_to_image": np.array([[1.0, 0, 0], [0, 1.0, 0]])}]
    preds = m.decode_maps(heat, tags, meta)
    assert len(preds) == n
    for p in preds:
        match = np.argmin([np.abs(p.keypoints[:, :2] - k[:, :2]).max() for k in kps])
        assert np.abs(p.keypoints[:, :2] - kps[match, :, :2]).max() < 0.05
        assert p.keypoints[:, 2].min() > 0.9 and p.image_id == 7 and p.category_id == 1


def test_fill_missing_recovers_an_undetected_keypoint():
    m = method(refine="log_quadratic", detection_threshold=0.5)
    kps = people(np.random.default_rng(3), 1)
    heat, tags = ideal_outputs(m, kps, [5.0])
    heat[0, 4] *= 0.4  # below the detection threshold: not grouped, found again by its tag
    preds = m.decode_maps(heat, tags, [{"image_id": 1, "input_to_image": np.array([[1.0, 0, 0], [0, 1.0, 0]])}])
    assert len(preds) == 1
    assert np.abs(preds[0].keypoints[4, :2] - kps[0, 4, :2]).max() < 0.05
    assert preds[0].keypoints[4, 2] == pytest.approx(0.4, abs=0.05)


def test_grouper_hungarian_hand_case():
    # two keypoint types, two people with tags 0 and 5; the second type's peaks come in swapped order
    values = np.array([[0.9, 0.8, 0.05], [0.7, 0.6, 0.0]])
    cells = np.array([[[1, 1], [9, 9], [0, 0]], [[8, 9], [2, 1], [0, 0]]])
    tags = np.array([[[0.0], [5.0], [2.0]], [[5.2], [0.3], [0.0]]])
    people, means = TagGrouper(0.1, 1.0)(values, cells, tags)
    assert people.shape == (2, 2, 3)
    assert people[0, 1].tolist() == [2, 1, 0.6] and people[1, 1].tolist() == [8, 9, 0.7]
    assert means[:, 0].tolist() == pytest.approx([0.15, 5.1])
    # a tag farther than the threshold starts a new person
    tags[1, 1, 0] = 2.0
    people, _ = TagGrouper(0.1, 1.0)(values, cells, tags)
    assert len(people) == 3


def test_top_peaks_suppresses_neighbours():
    heat = torch.zeros(1, 1, 8, 8)
    heat[0, 0, 2, 2], heat[0, 0, 2, 3], heat[0, 0, 6, 6] = 1.0, 0.9, 0.5
    tags = torch.arange(64.0).view(1, 1, 1, 8, 8)
    values, cells, tag = top_peaks(heat, tags, 2)
    assert values[0, 0].tolist() == [1.0, 0.5]
    assert cells[0, 0].tolist() == [[2, 2], [6, 6]] and tag[0, 0, :, 0].tolist() == [18.0, 54.0]


def test_dataset_to_evaluation_round_trip(tiny_coco):
    """Targets of the un-augmented view → ideal maps → decode → OKS AP on the original images."""
    from kpdet.data.coco import load_coco
    from kpdet.eval import evaluate

    coco = load_coco(tiny_coco(n_images=3, size=(96, 80), instances=2))
    m = get_method("clusternet").from_config({**TINY, "input_size": [128, 128], "decoder": {"flip_test": False}},
                                             coco.schemas)
    ds = m.build_dataset(coco, train=False)
    ds.encode = m.targets
    preds = []
    for i in range(len(ds)):
        _, t, meta = ds[i]
        heat = torch.as_tensor(t["heatmap"])[None]
        tags = torch.zeros(1, 17, 1, *heat.shape[-2:])
        for p, k in zip(*np.nonzero(t["joints"][..., 1])):
            y, x = divmod(int(t["joints"][p, k, 0]), heat.shape[-1])
            tags[0, k, 0, y, x] = 3.0 * (p + 1)
        preds += [p.to_coco() for p in m.decode_maps(heat, tags, [meta])]
    assert evaluate(coco, preds, metric="oks")["AP"] > 0.9
