import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _instance_figures import SQUARE, make_figures  # noqa: E402

from kpdet.data.instance_crops import CropAugment, InstanceCropDataset  # noqa: E402
from kpdet.data.transforms import ColorJitter  # noqa: E402
from kpdet.errors import DataError  # noqa: E402
from kpdet.ops.affine import apply_affine  # noqa: E402
from kpdet.schema import COCO17  # noqa: E402


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    return make_figures(tmp_path_factory.mktemp("figs"), n_images=3)


def test_gt_boxes_one_item_per_labelled_instance(figures):
    kept = figures.annotations[0]["keypoints"]
    figures.annotations[0]["keypoints"] = [0] * 51  # no labelled keypoint: skipped
    figures.annotations[1]["iscrowd"] = 1  # crowd: skipped
    try:
        ds = InstanceCropDataset(figures, {1: COCO17, 2: SQUARE}, input_size=(64, 48))
        assert len(ds) == len(figures.annotations) - 2
        only_squares = InstanceCropDataset(figures, {2: SQUARE}, input_size=(64, 48))
        assert {r.category_id for r in only_squares.records} == {2}
    finally:
        figures.annotations[0]["keypoints"] = kept
        figures.annotations[1]["iscrowd"] = 0


def test_item_keypoints_map_back_to_the_image(figures):
    seen = []
    ds = InstanceCropDataset(figures, {1: COCO17, 2: SQUARE}, input_size=(64, 48), encode=lambda s: seen.append(s) or {})
    image, targets, meta = ds[2]
    assert image.shape == (3, 64, 48) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    ann = next(a for a in figures.annotations if a["id"] == meta["ann_id"])
    kp = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
    crop_kp = seen[0].instances.keypoints[0]
    back = apply_affine(crop_kp[:, :2], meta["crop_to_image"])
    np.testing.assert_allclose(back[kp[:, 2] > 0], kp[kp[:, 2] > 0, :2], atol=1e-9)
    assert meta["image_id"] == ann["image_id"] and meta["box_score"] == 1.0


def test_training_items_are_augmented_and_keep_keypoints_consistent(figures):
    samples = []
    aug = CropAugment(color=ColorJitter(0.3, 0.3, 0.3, 0.05))
    ds = InstanceCropDataset(figures, {1: COCO17, 2: SQUARE}, input_size=(64, 48), train=True, augment=aug,
                             encode=lambda s: samples.append(s) or {})
    torch.manual_seed(0)
    a, _, meta = ds[0]
    b, _, _ = ds[0]
    assert not torch.equal(a, b)
    # crop keypoints → image through meta's inverse affine, identities swapped back if the crop was flipped
    flips = set()
    for index in range(6):
        samples.clear()
        _, _, meta = ds[index % len(ds)]
        ann = next(x for x in figures.annotations if x["id"] == meta["ann_id"])
        kp = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        back = apply_affine(samples[0].instances.keypoints[0, :, :2], meta["crop_to_image"])
        ok = kp[:, 2] > 0
        flip_index = {1: COCO17, 2: SQUARE}[meta["category_id"]].flip_index
        direct = np.abs(back[ok] - kp[ok, :2]).max()
        swapped = np.abs(back[flip_index][ok] - kp[ok, :2]).max()
        assert min(direct, swapped) < 1e-9
        flips.add(bool(swapped < direct))
    assert flips == {True, False}


def test_detection_boxes_and_bad_images(figures, tmp_path):
    dets = [{"image_id": 1, "category_id": 2, "bbox": [10, 10, 40, 40], "score": 0.7},
            {"image_id": 1, "category_id": 99, "bbox": [10, 10, 40, 40], "score": 0.9}]
    ds = InstanceCropDataset(figures, {1: COCO17, 2: SQUARE}, input_size=(64, 48), boxes=dets)
    assert len(ds) == 1
    _, targets, meta = ds[0]
    assert targets == {} and meta["box_score"] == 0.7 and meta["ann_id"] == -1
    with pytest.raises(DataError, match="detection #0"):
        InstanceCropDataset(figures, {2: SQUARE}, input_size=(64, 48), boxes=[{"image_id": 1}])
    figures.extra["image_root"] = str(tmp_path)  # no images there
    try:
        with pytest.raises(DataError, match="not found"):
            ds[0]
    finally:
        del figures.extra["image_root"]
