import math

import numpy as np
import pytest
import torch

from kpdet.errors import ConfigError
from kpdet.methods.clusternet.clusters import Clusters, alignment_mask, even_partition
from kpdet.methods.clusternet.loss import cluster_targets, detection_loss, read_tags, tag_losses


def test_even_partition_matches_paper_sizes():
    assert [len(g) for g in even_partition(17, 3)] == [5, 6, 6]
    assert [len(g) for g in even_partition(17, 5)] == [3, 3, 3, 4, 4]
    assert even_partition(4, 1) == [[0, 1, 2, 3]]
    with pytest.raises(ConfigError):
        even_partition(3, 4)


def test_clusters_order_and_alignment():
    c3 = Clusters.build(17, 3)
    assert list(c3.order[:5]) == [0, 1, 2, 3, 4] and c3.order[5] == 0 and c3.cluster_of[16] == 2
    assert Clusters.build(17, 17).is_identity and not c3.is_identity
    mask = alignment_mask(Clusters.build(17, 5), c3)  # (3, 5)
    # sparse (0-2), (3-5), (6-8), (9-12), (13-16) vs dense (0-4), (5-10), (11-16)
    assert mask.tolist() == [[1, 1, 0, 0, 0], [0, 1, 1, 1, 0], [0, 0, 0, 1, 1]]


def test_explicit_groups_checked():
    c = Clusters.build(4, 2, {2: [[0, 3], [1, 2]]})
    assert list(c.cluster_of) == [0, 1, 1, 0] and list(c.order) == [0, 0, 1, 1]
    with pytest.raises(ConfigError, match="cover"):
        Clusters.build(4, 2, {2: [[0, 1], [1, 2]]})


def test_cluster_targets_take_max_over_cluster_keypoints():
    heat = torch.zeros(1, 3, 4, 4)
    heat[0, 0, 1, 1], heat[0, 1, 1, 1], heat[0, 1, 2, 2], heat[0, 2, 3, 3] = 0.5, 0.7, 1.0, 0.9
    out = cluster_targets(heat, torch.tensor([0, 0, 1]), 2)
    assert out.shape == (1, 2, 4, 4)
    assert out[0, 0, 1, 1] == 0.7 and out[0, 0, 2, 2] == 1.0 and out[0, 1, 3, 3] == 0.9 and out[0, 1].sum() == 0.9
    mask = torch.ones(1, 4, 4)
    mask[0, 2, 2] = 0
    assert detection_loss(out, out, mask) == 0
    # an error only inside the masked cell costs nothing
    bad = out.clone()
    bad[0, 0, 2, 2] = 5.0
    assert detection_loss(bad, out, mask) == 0
    bad[0, 0, 0, 0] = 1.0
    assert math.isclose(float(detection_loss(bad, out, mask)), 1.0 / 32)


def test_pull_push_hand_computed():
    # one cluster holding both keypoints (d_0 = 0, d_1 = 1), δ = 0.5, Δ = 1
    # person A: tags 1.0 and 1.7 → normalised 1.0, 1.2 → reference 1.1, pull (0.01 + 0.01) / 2 = 0.01
    # person B: tags 3.0 and 3.5 → normalised 3.0, 3.0 → reference 3.0, pull 0
    # third slot empty; pull = (0.01 + 0) / 2 = 0.005; push = exp(−1.9² / 2) for both ordered pairs
    tags = torch.zeros(1, 1, 1, 3, 3)  # (B, n, L, H, W)
    tags[0, 0, 0, 0, 0], tags[0, 0, 0, 0, 1] = 1.0, 1.7
    tags[0, 0, 0, 2, 0], tags[0, 0, 0, 2, 1] = 3.0, 3.5
    joints = torch.zeros(1, 3, 2, 2, dtype=torch.long)  # (B, N, K, 2)
    joints[0, 0, :, 0] = torch.tensor([0, 1])
    joints[0, 1, :, 0] = torch.tensor([6, 7])
    joints[0, :2, :, 1] = 1
    tag_at = read_tags(tags, torch.tensor([0, 0]), joints)
    assert tag_at[0, :2, :, 0].flatten().tolist() == pytest.approx([1.0, 1.7, 3.0, 3.5])
    pull, push = tag_losses(tag_at, joints[..., 1], torch.tensor([0, 1]), delta=0.5, margin=1.0)
    assert float(pull) == pytest.approx(0.005, abs=1e-6)
    assert float(push) == pytest.approx(math.exp(-1.9**2 / 2), abs=1e-6)


def test_tag_losses_ignore_hidden_keypoints_and_lonely_images():
    tag_at = torch.tensor([[[[0.0], [9.0]]], [[[1.0], [1.0]]]])  # (B=2, N=1, K=2, L=1)
    visible = torch.tensor([[[1, 0]], [[1, 1]]])
    pull, push = tag_losses(tag_at, visible, torch.zeros(2, dtype=torch.long), delta=0.03, margin=4.0)
    assert float(pull) == 0.0 and float(push) == 0.0  # one person per image: nothing to push
    tag_at.requires_grad_(True)
    pull, _ = tag_losses(tag_at, visible, torch.zeros(2, dtype=torch.long), delta=0.03, margin=4.0)
    pull.backward()
    assert tag_at.grad[0, 0, 1].abs().sum() == 0
