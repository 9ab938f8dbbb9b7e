"""Pose non-maximum suppression by OKS, batched over groups (images) of padded poses.

Greedy OKS-NMS (SimpleBaseline/HRNet) and CCM's Soft-NMS fusion (Eq. 23–24), which replaces each
kept pose by the OKS-weighted mean of itself and the poses it suppressed. Poses are grouped into
padded tensors (G, M, ...) by :func:`group_index`; greedy suppression is computed as the fixed
point of "kept ⇔ no kept higher-scored pose overlaps it", iterated with whole-tensor operations
(the loop runs as many times as the longest suppression chain, not once per pose).
"""

from __future__ import annotations

import torch


def group_index(groups: torch.Tensor) -> torch.Tensor:
    """groups (N,) integer labels → index (G, M) into the N items, −1 for padding (groups sorted)."""
    _, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    order = torch.argsort(inverse, stable=True)
    starts = torch.cumsum(counts, 0) - counts  # (G,)
    pos = torch.arange(len(groups), device=groups.device) - starts[inverse[order]]
    index = torch.full((len(counts), int(counts.max()) if len(counts) else 0), -1, dtype=torch.long,
                       device=groups.device)
    index[inverse[order], pos] = order
    return index


def pose_oks(points: torch.Tensor, areas: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Pairwise OKS of poses (SimpleBaseline's ``oks_iou``: mean over all K keypoints).

    points (G, M, K, 2), areas (G, M), sigmas (K,) → (G, M, M); the scale is the mean of both areas.
    """
    d2 = (points[:, :, None] - points[:, None, :]).pow(2).sum(-1)  # (G, M, M, K)
    scale = 0.5 * (areas[:, :, None] + areas[:, None, :]) + torch.finfo(points.dtype).eps  # (G, M, M)
    var = (2 * sigmas) ** 2  # (K,)
    return torch.exp(-d2 / var / scale[..., None] / 2).mean(-1)


def _suppression(scores: torch.Tensor, oks: torch.Tensor, valid: torch.Tensor, threshold: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """→ S (G, M, M): pose i may suppress pose j (i ranked higher, OKS > threshold), and ranks (G, M)."""
    m = scores.shape[1]
    order = torch.argsort(torch.where(valid, scores, float("-inf")), dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(m, device=scores.device).expand_as(order))
    higher = rank[:, :, None] < rank[:, None, :]
    pair = valid[:, :, None] & valid[:, None, :]
    return higher & pair & (oks > threshold), rank


def oks_nms(scores: torch.Tensor, oks: torch.Tensor, valid: torch.Tensor, threshold: float
            ) -> torch.Tensor:
    """Greedy OKS-NMS. scores (G, M), oks (G, M, M), valid (G, M) → keep (G, M) bool."""
    s, _ = _suppression(scores, oks, valid, threshold)
    keep = valid.clone()
    for _ in range(scores.shape[1] + 1):  # bounded; stops at the fixed point (chain depth)
        new = valid & ~(keep[:, :, None] & s).any(1)
        if torch.equal(new, keep):
            break
        keep = new
    return keep


def soft_nms_fusion(points: torch.Tensor, scores: torch.Tensor, oks: torch.Tensor, valid: torch.Tensor,
                    threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """CCM Eq. 23: each kept pose p_i becomes Σ_{j∈A_i} OKS_ij p_j / Σ_{j∈A_i} OKS_ij, with A_i the poses
    that greedy NMS suppresses on behalf of p_i (each assigned to its highest-ranked kept suppressor)
    plus p_i itself (OKS_ii = 1).

    points (G, M, K, 2) → keep (G, M), fused points (G, M, K, 2) (rows of suppressed poses unchanged).
    """
    keep = oks_nms(scores, oks, valid, threshold)
    s, rank = _suppression(scores, oks, valid, threshold)
    m = scores.shape[1]
    owners = s & keep[:, :, None] & ~keep[:, None, :]  # (G, M, M): kept i suppresses dropped j
    owner_rank = torch.where(owners, rank[:, :, None], m)  # (G, M, M)
    first = owner_rank.min(1, keepdim=True).values  # (G, 1, M)
    assigned = owners & (owner_rank == first)
    eye = torch.eye(m, dtype=torch.bool, device=scores.device)[None] & keep[:, :, None]
    weight = torch.where(assigned, oks, 0.0) + eye.to(oks.dtype)  # (G, M, M)
    fused = torch.einsum("gij,gjkc->gikc", weight, points) / weight.sum(-1).clamp_min(1e-12)[..., None, None]
    return keep, torch.where(keep[..., None, None], fused, points)
