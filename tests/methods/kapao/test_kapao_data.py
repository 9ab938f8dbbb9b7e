"""KAPAO whole-image dataset: letterbox round trip, mirror with keypoint swap, mosaic labels."""

import numpy as np
import torch

from kpdet.data.coco import load_coco
from kpdet.methods.kapao import augment as A
from kpdet.methods.kapao.config import AugmentConfig
from kpdet.methods.kapao.dataset import KapaoDataset, collate
from kpdet.schema import COCO17
from kpdet.structures import Instances


def _dataset(tiny_coco, augment, rect=True, size=128):
    coco = load_coco(tiny_coco(n_images=3, schema=COCO17, size=(96, 64), instances=2))
    flip = {c: s.flip_index for c, s in coco.schemas.items()}
    encode = lambda s: {"labels": np.zeros((len(s.instances), 5), np.float32),  # noqa: E731
                        "kps": s.instances.keypoints, "boxes": s.instances.boxes}
    return coco, KapaoDataset(coco, input_size=size, encode=encode, flip_index=flip, augment=augment, rect=rect)


def test_letterbox_maps_back_to_the_original_coordinates(tiny_coco):
    coco, ds = _dataset(tiny_coco, None, size=192)
    image, targets, meta = ds[0]
    assert image.shape == (3, 128, 192) and 0 <= image.min() and image.max() <= 1  # 96×64 → 192×128
    kps = targets["kps"]
    back = kps[..., :2] @ meta["input_to_image"][:, :2].T + meta["input_to_image"][:, 2]
    orig = coco.instances(meta["image_id"]).keypoints
    np.testing.assert_allclose(back, orig[..., :2], atol=1e-9)
    square = _dataset(tiny_coco, None, rect=False, size=192)[1][0][0]
    assert square.shape == (3, 192, 192)


def test_letterbox_puts_pixel_centres_where_the_image_content_is():
    img = np.zeros((10, 10, 3), np.uint8)
    img[3, 7] = 255
    m, r = A.letterbox_matrix(10, 10, 40)
    out = A.warp(img, m, (40, 40), 0)
    x, y = m[:2, :2] @ [7, 3] + m[:2, 2]
    ys, xs = np.nonzero(out[..., 0] > 0)
    w = out[ys, xs, 0].astype(float)
    assert abs((xs * w).sum() / w.sum() - x) < 0.05 and abs((ys * w).sum() / w.sum() - y) < 0.05


def test_mirror_swaps_left_and_right_keypoints():
    kps = np.zeros((1, 17, 3))
    kps[0, 1] = [10, 5, 2]  # left eye
    kps[0, 2] = [20, 5, 2]  # right eye
    inst = Instances(kps, np.array([[8.0, 2, 15, 10]]), np.array([1]), np.array([150.0]), np.zeros(1, bool),
                     np.array([0]))
    out = A.flip_instances(inst, 100, {1: COCO17.flip_index})
    assert out.keypoints[0, 1].tolist() == [79, 5, 2] and out.keypoints[0, 2].tolist() == [89, 5, 2]
    assert out.boxes[0].tolist() == [100 - 1 - 23, 2, 15, 10]


def test_clip_drops_outside_boxes_and_unlabels_outside_keypoints():
    kps = np.array([[[5.0, 5, 2], [-3, 5, 2]], [[200, 200, 2], [210, 210, 2]]])
    inst = Instances(kps, np.array([[-10.0, 0, 30, 20], [190, 190, 30, 30]]), np.array([1, 1]),
                     np.ones(2), np.zeros(2, bool), np.arange(2))
    out = A.clip_instances(inst, 64, 64, 2.0)
    assert len(out) == 1 and out.keypoints[0, 1].tolist() == [0, 0, 0]
    np.testing.assert_allclose(out.boxes[0], [-0.5, 0, 20.5, 20])


def test_training_items_are_square_with_labels_inside(tiny_coco):
    _, ds = _dataset(tiny_coco, AugmentConfig(), size=128)
    torch.manual_seed(0)
    items = [ds[i] for i in range(3)]
    for image, targets, _ in items:
        assert image.shape == (3, 128, 128)
        kps = targets["kps"]
        on = kps[..., 2] > 0
        assert np.all((kps[on][:, :2] >= -0.5) & (kps[on][:, :2] <= 127.5))
    images, batch, meta = collate([(it[0], {"labels": np.ones((2, 5), np.float32)}, it[2]) for it in items])
    assert images.shape == (3, 3, 128, 128) and batch["labels"][:, 0].tolist() == [0, 0, 1, 1, 2, 2]
