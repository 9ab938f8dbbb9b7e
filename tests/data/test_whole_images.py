import numpy as np
import torch

from kpdet.data.coco import load_coco
from kpdet.data.whole_images import ImageAugment, WholeImageDataset
from kpdet.ops.affine import apply_affine, invert_affine
from kpdet.schema import COCO17


def test_letterbox_inverse_maps_back_and_keypoints_follow(tiny_coco):
    coco = load_coco(tiny_coco(n_images=2, size=(96, 64), instances=2))
    seen = []
    ds = WholeImageDataset(coco, coco.schemas, input_size=(64, 64), encode=lambda s: seen.append(s) or {})
    image, _, meta = ds[0]
    assert image.shape == (3, 64, 64)
    orig = coco.instances(meta["image_id"]).keypoints[..., :2]
    back = apply_affine(seen[0].instances.keypoints[..., :2], meta["input_to_image"])
    assert np.abs(back - orig).max() < 1e-6
    # a 96-wide image fills the width: the corners land on the input's corners (letter-box, aspect kept)
    corners = apply_affine(np.array([[-0.5, -0.5], [95.5, -0.5]]), invert_affine(meta["input_to_image"]))
    assert np.allclose(corners[:, 0], [-0.5, 63.5]) and np.isclose(corners[0, 1], corners[1, 1])


def test_augmented_flip_swaps_left_and_right(tiny_coco):
    coco = load_coco(tiny_coco(n_images=1, size=(64, 64), instances=1))
    seen = []
    aug = ImageAugment(1.0, 1.0, 0.0, 0.0, flip_prob=1.0)
    ds = WholeImageDataset(coco, coco.schemas, input_size=(64, 64), train=True, augment=aug,
                           encode=lambda s: seen.append(s) or {})
    torch.manual_seed(0)
    _, _, meta = ds[0]
    orig = coco.instances(1).keypoints[0]
    got = seen[0].instances.keypoints[0]
    # left eye (1) of the mirrored person is the original right eye (2), x mirrored
    assert np.isclose(got[1, 0], 63 - orig[2, 0]) and np.isclose(got[1, 1], orig[2, 1])
    back = apply_affine(got[COCO17.flip_index, :2], meta["input_to_image"])
    assert np.abs(back - orig[:, :2]).max() < 1e-6
