"""Batched OKS-NMS and CCM's Soft-NMS fusion (Eq. 23–24) against a plain greedy reference."""

import numpy as np
import pytest
import torch

from kpdet.ops.nms import group_index, oks_nms, pose_oks, soft_nms_fusion


def _greedy(scores, oks, thr):
    order = np.argsort(-scores, kind="stable")
    keep, owner = [], {}
    for j in order:
        hit = [i for i in keep if oks[i, j] > thr]
        if hit:
            owner[j] = hit[0]
        else:
            keep.append(j)
    return sorted(keep), owner


@pytest.mark.parametrize("seed", range(5))
def test_oks_nms_equals_greedy_reference(seed):
    rng = np.random.default_rng(seed)
    g, m, k = 3, 12, 5
    base = rng.uniform(0, 100, (g, 3, k, 2))
    pts = base[:, rng.integers(0, 3, m)] + rng.normal(0, 2.0, (g, m, k, 2))  # clusters of near-duplicates
    scores = rng.uniform(0, 1, (g, m))
    areas = np.full((g, m), 400.0)
    oks = pose_oks(torch.as_tensor(pts), torch.as_tensor(areas), torch.full((k,), 0.08, dtype=torch.float64))
    valid = torch.ones(g, m, dtype=torch.bool)
    valid[2, 9:] = False  # padding
    keep = oks_nms(torch.as_tensor(scores), oks, valid, 0.5)
    for gi in range(g):
        n = int(valid[gi].sum())
        ref, _ = _greedy(scores[gi, :n], oks[gi, :n, :n].numpy(), 0.5)
        assert torch.nonzero(keep[gi]).flatten().tolist() == ref
        assert not keep[gi, n:].any()
    assert keep.sum() < valid.sum()  # something was suppressed


def test_soft_nms_fusion_is_the_oks_weighted_mean_of_suppressed_poses():
    rng = np.random.default_rng(1)
    m, k = 6, 4
    pts = np.concatenate([50 + rng.normal(0, 1.5, (3, k, 2)), 10 + rng.normal(0, 1.5, (3, k, 2))])[None]
    scores = np.array([[0.9, 0.5, 0.7, 0.4, 0.95, 0.3]])
    oks = pose_oks(torch.as_tensor(pts), torch.full((1, m), 900.0, dtype=torch.float64),
                   torch.full((k,), 0.1, dtype=torch.float64))
    valid = torch.ones(1, m, dtype=torch.bool)
    keep, fused = soft_nms_fusion(torch.as_tensor(pts), torch.as_tensor(scores), oks, valid, 0.3)
    ref_keep, owner = _greedy(scores[0], oks[0].numpy(), 0.3)
    assert torch.nonzero(keep[0]).flatten().tolist() == ref_keep == [0, 4]
    for i in ref_keep:
        members = [i] + [j for j, o in owner.items() if o == i]
        w = np.array([1.0 if j == i else float(oks[0, i, j]) for j in members])
        expect = (w[:, None, None] * pts[0, members]).sum(0) / w.sum()  # Eq. 23
        assert np.allclose(fused[0, i].numpy(), expect)
        assert not np.allclose(expect, pts[0, i])  # the fusion moved the pose (Eq. 24's shift)


def test_group_index_pads_groups():
    idx = group_index(torch.tensor([7, 3, 7, 7, 5]))
    assert idx.tolist() == [[1, -1, -1], [4, -1, -1], [0, 2, 3]]
