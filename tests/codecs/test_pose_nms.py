"""PoseNMS over groups of poses: one pose per group keeps everything unchanged."""

import pytest
import torch

from kpdet.codecs.pose_nms import PoseNMS


@pytest.mark.parametrize("mode", ["oks", "soft"])
def test_single_pose_groups_are_kept_unchanged(mode):
    points = torch.rand(3, 5, 2) * 10  # three near-identical poses, each alone in its image
    points[1:] = points[0] + 0.01
    keep, out = PoseNMS(mode, 0.5)(points, torch.tensor([0.9, 0.8, 0.7]), torch.full((3,), 100.0),
                                   torch.tensor([4, 7, 9]), torch.full((5,), 0.1))
    assert keep.all() and torch.equal(out, points)
    keep, out = PoseNMS(mode, 0.5)(points, torch.tensor([0.9, 0.8, 0.7]), torch.full((3,), 100.0),
                                   torch.tensor([4, 4, 9]), torch.full((5,), 0.1))
    assert keep.tolist() == [True, False, True]  # in one image the duplicate goes
    assert torch.equal(out[2], points[2]) and (mode == "oks") == torch.equal(out[0], points[0])
