"""Where keypoint and clutter features are read from the feature map (batched, torch).

Clutter decision (method-notes "coke"): candidates are feature cells at least ``min_distance``
cells from every labelled keypoint (visible or hidden: a hidden keypoint's cell is not
clutter either); among them cells near keypoints are preferred, weight
exp(−(d − min_distance)/near_scale) + uniform, because the paper keeps "clutter features
that are spatially close to keypoint features and hence are most difficult to be
distinguished from" (Sec. 1, "within two pixels distance" in Sec. 4.1). The uniform floor
keeps some far background in the bank, and covers crops without labelled keypoints.
"""

from __future__ import annotations

import torch

from kpdet.structures import image_to_map


def keypoint_cells(keypoints: torch.Tensor, stride: int, map_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """keypoints (B, K, 3) crop pixels → nearest cells (B, K, 2) long x, y, and inside (B, K) bool."""
    h, w = map_hw
    cells = torch.round(image_to_map(keypoints[..., :2].float(), stride)).long()
    inside = (cells[..., 0] >= 0) & (cells[..., 0] < w) & (cells[..., 1] >= 0) & (cells[..., 1] < h)
    return cells.clamp_min(0).minimum(torch.tensor([w - 1, h - 1], device=cells.device)), inside


def gather_cells(features: torch.Tensor, flat_index: torch.Tensor) -> torch.Tensor:
    """features (B, D, H, W), flat_index (B, N) in [0, H·W) → (B, N, D)."""
    b, d, h, w = features.shape
    flat = features.reshape(b, d, h * w)
    return flat.gather(2, flat_index[:, None, :].expand(b, d, flat_index.shape[1])).transpose(1, 2)


def sample_clutter(keypoints: torch.Tensor, labelled: torch.Tensor, stride: int, map_hw: tuple[int, int],
                   num: int, min_distance: float = 2.0, near_scale: float = 2.0, uniform: float = 0.05,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """keypoints (B, K, 3) crop pixels, labelled (B, K) bool → clutter cells (B, num) flat index into
    H·W and valid (B, num) bool (False only where a crop has fewer than ``num`` candidate cells)."""
    h, w = map_hw
    b = keypoints.shape[0]
    device = keypoints.device
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    grid = torch.stack([xs, ys], -1).reshape(1, h * w, 1, 2).float()  # (1, HW, 1, 2)
    kp = image_to_map(keypoints[..., :2].float(), stride)[:, None]  # (B, 1, K, 2)
    dist = (grid - kp).norm(dim=-1)  # (B, HW, K)
    dist = torch.where(labelled[:, None, :], dist, torch.full_like(dist, float("inf")))
    nearest = dist.min(dim=-1).values if dist.shape[-1] else torch.full((b, h * w), float("inf"), device=device)
    eligible = nearest >= min_distance  # (B, HW)
    weight = (torch.exp(-(nearest - min_distance).clamp_min(0) / near_scale) + uniform) * eligible
    # rows with too few candidates still need `num` distinct draws: give the rest a vanishing weight
    weight = weight + 1e-12
    index = torch.multinomial(weight, num, replacement=False, generator=generator)  # (B, num)
    return index, eligible.gather(1, index)
