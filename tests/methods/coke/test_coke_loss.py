import math

import torch

from kpdet.methods.coke.loss import clutter_sampling_loss, keypoint_nll
from kpdet.methods.coke.sampling import sample_clutter


def test_keypoint_nll_matches_hand_computation():
    f = torch.tensor([[0.6, 0.8]])
    mu = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    theta = torch.tensor([[0.0, -1.0], [0.8, 0.6]])
    tau = 0.7
    allowed = torch.tensor([[True, True, False]])  # the third prototype belongs to another category
    loss = keypoint_nll(f, mu, torch.tensor([1]), allowed, theta, torch.tensor([True, True]), tau)
    # Eq. 6: −log e^{f·μ1/τ} / (e^{f·μ0/τ} + e^{f·μ1/τ} + e^{f·θ0/τ} + e^{f·θ1/τ})
    dots = [0.6, 0.8, -0.8, 0.96]
    expect = -(0.8 / tau - math.log(sum(math.exp(d / tau) for d in dots)))
    assert abs(float(loss[0]) - expect) < 1e-5


def test_empty_clutter_slots_and_per_feature_clutter():
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mu = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    allowed = torch.ones(2, 2, dtype=torch.bool)
    target = torch.tensor([0, 1])
    none = keypoint_nll(f, mu, target, allowed, None, None, 1.0)
    masked = keypoint_nll(f, mu, target, allowed, torch.tensor([[1.0, 0.0]]), torch.tensor([False]), 1.0)
    torch.testing.assert_close(none, masked)
    per_item = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]])  # (N, M=1, D)
    out = keypoint_nll(f, mu, target, allowed, per_item, torch.ones(2, 1, dtype=torch.bool), 1.0)
    expect = -(1 - math.log(math.e + 1 + 1))
    torch.testing.assert_close(out, torch.full((2,), expect))


def test_clutter_sampling_loss_is_mean_dot_with_own_prototypes():
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    mu = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.0, -1.0]])
    allowed = torch.tensor([[True, True, False], [False, False, True]])
    # pairs: c0·μ0 = 0.5, c0·μ1 = 1, c1·μ2 = −1 → mean 1/6
    assert abs(float(clutter_sampling_loss(c, mu, allowed)) - 0.5 / 3) < 1e-6


def test_clutter_is_sampled_away_from_labelled_keypoints():
    torch.manual_seed(0)
    stride, hw = 4, (16, 16)
    kp = torch.tensor([[[30.0, 30.0, 2.0], [10.0, 50.0, 1.0], [2.0, 2.0, 0.0]]])
    labelled = kp[..., 2] > 0
    index, ok = sample_clutter(kp, labelled, stride, hw, num=40, min_distance=2.0)
    assert ok.all() and len(set(index[0].tolist())) == 40
    cells = torch.stack([index % 16, index // 16], -1).float()  # (1, 40, 2)
    kp_cells = (kp[0, :2, :2] - 1.5) / 4  # image_to_map
    d = torch.cdist(cells[0], kp_cells).min(1).values
    assert (d >= 2.0).all()
    # hard negatives: most samples sit close to a keypoint (within 5 cells) though that ring is a small area
    assert (d < 5).float().mean() > 0.5
