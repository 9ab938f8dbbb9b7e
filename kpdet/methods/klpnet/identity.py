"""Keypoint identity (method-notes decision): the category-implicit heatmap says WHERE keypoints
are, not WHICH; each peak's embedding is matched one-to-one (Hungarian) to learned canonical
prototypes of the object's category (cosine similarity / τ, softmax over the category's K)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn


class Prototypes(nn.Module):
    def __init__(self, sizes: list[int], dim: int, temperature: float):
        """sizes: keypoint count of each category (model order)."""
        super().__init__()
        kmax = max(sizes)
        self.weight = nn.Parameter(torch.randn(len(sizes), kmax, dim) * 0.5)  # (C, Kmax, D)
        self.register_buffer("valid", torch.arange(kmax)[None] < torch.as_tensor(sizes)[:, None], persistent=False)
        self.temperature = temperature

    def log_probs(self, feats: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        """feats (M, ..., D) unit length, cats (M,) → log p(identity) (M, ..., Kmax), -inf past K_c."""
        protos = F.normalize(self.weight[cats], dim=-1)  # (M, Kmax, D)
        shape = feats.shape
        sim = torch.einsum("mnd,mkd->mnk", feats.reshape(shape[0], -1, shape[-1]), protos) / self.temperature
        sim = sim.masked_fill(~self.valid[cats][:, None], float("-inf"))
        return sim.log_softmax(-1).reshape(*shape[:-1], -1)

    def loss(self, feats: torch.Tensor, cats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """feats (M, K, D) at the labelled keypoints (mask (M, K)): cross-entropy to their own index."""
        lp = self.log_probs(feats, cats)  # (M, K, Kmax)
        k = lp.shape[1]
        target = torch.arange(k, device=feats.device).expand(len(feats), k)
        picked = lp.gather(-1, target[..., None].clamp_max(lp.shape[-1] - 1))[..., 0]
        picked = torch.where(mask, picked, torch.zeros_like(picked))  # -inf past K_c must not reach the sum
        return -picked.sum() / mask.sum().clamp_min(1)


def sample_embed(embed: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """embed (M, D, h, w), uv (M, K, 2) cells → (M, K, D) bilinear, re-normalised."""
    h, w = embed.shape[-2:]
    grid = torch.stack([uv[..., 0] / max(w - 1, 1), uv[..., 1] / max(h - 1, 1)], -1) * 2 - 1
    f = F.grid_sample(embed, grid[:, :, None].to(embed), mode="bilinear", align_corners=True)  # (M, D, K, 1)
    return F.normalize(f[..., 0].transpose(1, 2), dim=-1)


def assign_peaks(cost: np.ndarray, ks: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """cost (M, P, Kmax), ks (M,), usable (M, P) → (M, Kmax) index of the peak given to each
    identity, -1 where none (Hungarian on each object's usable peaks × its K_c identities)."""
    out = np.full(cost.shape[::2], -1, np.int64)
    for m in range(len(cost)):
        rows = np.flatnonzero(usable[m])
        if not len(rows):
            continue
        r, c = linear_sum_assignment(cost[m][rows][:, : ks[m]])
        out[m, c] = rows[r]
    return out
