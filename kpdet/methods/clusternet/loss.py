"""Detection (Eq. 1) and cluster-wise tag losses (Eq. 2–7), batched over images and people.

Reading of Eq. 3–5 (see method-notes): the tag read at keypoint k is trained to equal its
person's reference plus d_k·δ, d_k = order of k inside its cluster. With ĥ_k = h_k − d_k·δ,
h̄_n = mean of ĥ_k over the person's labelled keypoints; pull = mean (ĥ_k − h̄_n)²;
push = mean over pairs n ≠ m of exp(−(h̄_n − h̄_m)² / (2Δ²)).
"""

from __future__ import annotations

import torch


def cluster_targets(heatmap: torch.Tensor, cluster_of: torch.Tensor, num_clusters: int) -> torch.Tensor:
    """heatmap (B, K, H, W) per keypoint → (B, n, H, W) multi-peak maps, max over each cluster's keypoints."""
    b, _, h, w = heatmap.shape
    index = cluster_of.view(1, -1, 1, 1).expand_as(heatmap)
    out = heatmap.new_zeros(b, num_clusters, h, w)
    return out.scatter_reduce(1, index, heatmap, reduce="amax", include_self=True)


def detection_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 1: pred, target (B, n, H, W), mask (B, H, W) → mean over pixels, clusters and images."""
    return ((pred - target).pow(2) * mask[:, None]).mean()


def read_tags(tags: torch.Tensor, cluster_of: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    """tags (B, n, L, H, W), cluster_of (K,), joints (B, N, K, 2) → tag of every person's keypoint (B, N, K, L),
    read on its cluster's tag map at its location."""
    b, n, l, h, w = tags.shape
    per_kp = tags.reshape(b, n, l, h * w)[:, cluster_of]  # (B, K, L, HW)
    index = joints[..., 0].permute(0, 2, 1)[:, :, None, :].expand(-1, -1, l, -1)  # (B, K, L, N)
    return per_kp.gather(-1, index).permute(0, 3, 1, 2)  # (B, N, K, L)


def tag_losses(tag_at: torch.Tensor, visible: torch.Tensor, order: torch.Tensor, delta: float, margin: float
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """tag_at (B, N, K, L), visible (B, N, K) {0, 1}, order (K,) d_k → pull (Eq. 3), push (Eq. 6), scalars.

    Each is averaged per image (over its people / ordered pairs) and then over the images that have
    at least one person (pull) / two people (push).
    """
    vis = visible.to(tag_at.dtype)
    normed = tag_at - (order.to(tag_at) * delta)[None, None, :, None]  # ĥ_k, Eq. 4
    count = vis.sum(-1)  # (B, N)
    person = count > 0
    ref = (normed * vis[..., None]).sum(2) / count.clamp_min(1)[..., None]  # h̄_n (B, N, L), Eq. 7
    sq = (normed - ref[:, :, None]).pow(2).sum(-1)  # (B, N, K)
    per_person = (sq * vis).sum(-1) / count.clamp_min(1)  # (B, N)
    people = person.sum(-1).to(tag_at.dtype)  # (B,)
    pull_img = (per_person * person).sum(-1) / people.clamp_min(1)
    has1 = people > 0
    pull = (pull_img * has1).sum() / has1.sum().clamp_min(1)

    d2 = (ref[:, :, None] - ref[:, None]).pow(2).sum(-1)  # (B, N, N)
    pair = person[:, :, None] & person[:, None, :]
    pair = pair & ~torch.eye(pair.shape[1], dtype=torch.bool, device=pair.device)[None]
    push_pairs = torch.exp(-d2 / (2 * margin**2)) * pair  # Eq. 6
    pairs = pair.sum((1, 2)).to(tag_at.dtype)
    push_img = push_pairs.sum((1, 2)) / pairs.clamp_min(1)
    has2 = pairs > 0
    push = (push_img * has2).sum() / has2.sum().clamp_min(1)
    return pull, push
