"""Pose NMS over the predictions of a dataset, grouped by image (and category): none, greedy
OKS-NMS, or CCM's Soft-NMS fusion (Eq. 23–24). Batched: one padded tensor per call, no Python
loop over poses (see :mod:`kpdet.ops.nms`).

Areas: the box area when the pose has a box (SimpleBaseline uses its detection box), else the
area of the keypoints' bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from kpdet.ops.nms import group_index, oks_nms, pose_oks, soft_nms_fusion


@dataclass(frozen=True)
class PoseNMS:
    mode: Literal["none", "oks", "soft"] = "soft"
    threshold: float = 0.9

    def __call__(self, points: torch.Tensor, scores: torch.Tensor, areas: torch.Tensor, groups: torch.Tensor,
                 sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (N, K, 2), scores (N,), areas (N,), groups (N,) int, sigmas (K,)
        → keep (N,) bool, points (N, K, 2) (fused for kept poses under Soft-NMS)."""
        n = len(scores)
        if self.mode == "none" or n == 0:
            return torch.ones(n, dtype=torch.bool, device=scores.device), points
        index = group_index(groups)  # (G, M)
        if index.shape[1] == 1:  # one pose per group: nothing to suppress or fuse
            return torch.ones(n, dtype=torch.bool, device=scores.device), points
        valid = index >= 0
        safe = index.clamp_min(0)
        p = points[safe]  # (G, M, K, 2)
        s = torch.where(valid, scores[safe], float("-inf"))
        oks = pose_oks(p, areas[safe], sigmas.to(p))
        if self.mode == "oks":
            keep_g, fused = oks_nms(s, oks, valid, self.threshold), p
        elif self.mode == "soft":
            keep_g, fused = soft_nms_fusion(p, s, oks, valid, self.threshold)
        else:
            raise ValueError(f"unknown pose NMS mode '{self.mode}'; choose none, oks or soft")
        keep = torch.zeros(n, dtype=torch.bool, device=scores.device)
        keep[index[valid]] = keep_g[valid]
        out = points.clone()
        out[index[valid]] = fused[valid]
        return keep, out
