"""Associative-embedding inference: top-K peaks, grouping by tag distance with Hungarian matching,
and PoseAE's filling of undetected keypoints. Peaks and filling are batched in torch; the
matching is a short loop over keypoint types per image (each step depends on the previous)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment


def top_peaks(heatmaps: torch.Tensor, tags: torch.Tensor, k: int, nms_kernel: int = 3
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """heatmaps (B, J, H, W), tags (B, J, L, H, W) → top-k local maxima per map:
    values (B, J, k), cells (B, J, k, 2) integer x, y, tag vectors (B, J, k, L)."""
    b, j, h, w = heatmaps.shape
    pooled = F.max_pool2d(heatmaps, nms_kernel, 1, nms_kernel // 2)
    peaks = heatmaps * (pooled == heatmaps)
    k = min(k, h * w)
    values, flat = peaks.reshape(b, j, h * w).topk(k, dim=-1)  # (B, J, k)
    cells = torch.stack([flat % w, torch.div(flat, w, rounding_mode="floor")], -1)
    l = tags.shape[2]
    tag = tags.reshape(b, j, l, h * w).gather(-1, flat[:, :, None].expand(-1, -1, l, -1))  # (B, J, L, k)
    return values, cells, tag.permute(0, 1, 3, 2)


@dataclass(frozen=True)
class TagGrouper:
    """Greedy over keypoint types in schema order (PoseAE): the peaks of type j above
    ``detection_threshold`` are matched one-to-one to the people found so far by the Hungarian
    algorithm on cost round(‖tag − person mean‖)·100 − value; a match farther than
    ``tag_threshold`` (or no match) starts a new person."""

    detection_threshold: float = 0.1
    tag_threshold: float = 1.0

    def __call__(self, values: np.ndarray, cells: np.ndarray, tags: np.ndarray, threshold: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """One image: values (J, k), cells (J, k, 2), tags (J, k, L) → people (P, J, 3) x, y, value
        (value 0: not found) and their mean tags (P, L)."""
        thr = self.detection_threshold if threshold is None else threshold
        j_count, _, l = tags.shape
        people: list[np.ndarray] = []  # each (J, 3)
        sums = np.zeros((0, l))
        counts = np.zeros(0)
        for j in range(j_count):
            keep = values[j] > thr
            if not keep.any():
                continue
            v, c, t = values[j, keep], cells[j, keep], tags[j, keep]
            rows = np.arange(len(v))
            cols = np.full(len(v), -1)
            if people:
                means = sums / counts[:, None]
                dist = np.linalg.norm(t[:, None] - means[None], axis=-1)  # (n, P)
                cost = np.round(dist) * 100 - v[:, None]
                r, col = linear_sum_assignment(cost)
                ok = dist[r, col] < self.tag_threshold
                cols[r[ok]] = col[ok]
            for i in rows:
                p = cols[i]
                if p < 0:
                    people.append(np.zeros((j_count, 3)))
                    sums = np.vstack([sums, np.zeros((1, l))])
                    counts = np.append(counts, 0.0)
                    p = len(people) - 1
                people[p][j] = (c[i, 0], c[i, 1], v[i])
                sums[p] += t[i]
                counts[p] += 1
        if not people:
            return np.zeros((0, j_count, 3)), np.zeros((0, l))
        return np.stack(people), sums / counts[:, None]


def fill_missing(people: torch.Tensor, means: torch.Tensor, heatmaps: torch.Tensor, tags: torch.Tensor,
                 valid: torch.Tensor | None = None) -> torch.Tensor:
    """PoseAE refinement: each person's undetected keypoint j is put at the cell of map j that
    maximises value − round(‖tag − person mean‖).

    people (B, P, J, 3) x, y, value (value 0: missing), means (B, P, L), heatmaps (B, J, H, W),
    tags (B, J, L, H, W), valid (B, P) real people (padding rows are skipped) → people with the
    missing entries filled (value read on the heatmap).
    """
    b, j, h, w = heatmaps.shape
    missing = people[..., 2] <= 0
    if valid is not None:
        missing &= valid[..., None]
    bi, pi, ji = torch.nonzero(missing, as_tuple=True)  # the M missing entries
    if len(bi) == 0:
        return people
    dist = (tags[bi, ji] - means[bi, pi][:, :, None, None]).norm(dim=1)  # (M, H, W)
    maps = heatmaps[bi, ji]  # (M, H, W)
    flat = (maps - dist.round()).reshape(-1, h * w).argmax(-1)  # (M,)
    value = maps.reshape(-1, h * w).gather(-1, flat[:, None])[:, 0]
    out = people.clone()
    out[bi, pi, ji] = torch.stack([(flat % w).to(people), torch.div(flat, w, rounding_mode="floor").to(people),
                                   value.to(people)], -1)
    return out
