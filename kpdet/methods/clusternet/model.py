"""Cluster-wise learning network: stacked hourglass, each stack with a dense and a sparse branch.

Per stack and branch: one multi-peak detection heatmap and one tag map (``tag_dim`` channels)
per keypoint cluster (Fig. 2). In-branch aggregation: concat(tag features, detection
features) → 1×1 conv → + detection features (Fig. 4a). Cross-branch aggregation: the sparse
branch's predictions are mapped onto the dense clusters by a grouped 1×1 conv (a sparse
cluster feeds the dense cluster that holds its keypoints) and its general features by a 1×1
conv, both summed into the dense branch (Fig. 4b). Everything is fused by 1×1 convs into the
next stack's input; every stack's both branches are supervised.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from kpdet.methods.clusternet.clusters import Clusters, alignment_mask
from kpdet.nn.hourglass import Hourglass, Residual, Stem, conv_bn_relu


class Branch(nn.Module):
    """features (B, C, h, w) → heatmaps (B, n, h, w), tags (B, n·L, h, w), detection features (B, C, h, w)."""

    def __init__(self, channels: int, clusters: int, tag_dim: int, in_branch: bool):
        super().__init__()
        self.det_features = conv_bn_relu(channels, channels)
        self.tag_features = conv_bn_relu(channels, channels)
        self.det_out = nn.Conv2d(channels, clusters, 1)
        self.tag_out = nn.Conv2d(channels, clusters * tag_dim, 1)
        self.fuse = nn.Conv2d(2 * channels, channels, 1) if in_branch else None

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d, t = self.det_features(f), self.tag_features(f)
        heat, tags = self.det_out(d), self.tag_out(t)
        if self.fuse is not None:
            d = d + self.fuse(torch.cat([t, d], dim=1))  # in-branch aggregation, Fig. 4a
        return heat, tags, d


class MaskedConv1x1(nn.Module):
    """1×1 conv whose weight is zero outside ``mask`` (n_out, n_in): a grouped conv whose groups
    follow the clusters' keypoints, also when the partitions do not nest."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask[:, :, None, None].float(), persistent=False)
        self.weight = nn.Parameter(mask[:, :, None, None].float() / mask.sum(1).clamp_min(1)[:, None, None, None])
        self.bias = nn.Parameter(torch.zeros(mask.shape[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.weight * self.mask, self.bias)


class Stack(nn.Module):
    def __init__(self, channels: int, depth: int, sparse: Clusters, dense: Clusters | None, tag_dim: int,
                 in_branch: bool, cross_branch: bool, last: bool):
        super().__init__()
        self.hourglass = Hourglass(depth, channels)
        self.features = nn.Sequential(Residual(channels, channels), conv_bn_relu(channels, channels))
        self.sparse = Branch(channels, sparse.num, tag_dim, in_branch)
        self.dense = Branch(channels, dense.num, tag_dim, in_branch) if dense is not None else None
        cross = cross_branch and dense is not None
        self.align_pred = MaskedConv1x1(torch.as_tensor(alignment_mask(sparse, dense))) if cross else None
        self.align_feat = nn.Conv2d(channels, channels, 1) if cross else None
        if last:
            self.merge_feat = self.merge_pred = None
        else:
            n_pred = (sparse.num + (dense.num if dense is not None else 0)) * (1 + tag_dim)
            n_feat = channels * (2 if dense is not None else 1)
            self.merge_feat = nn.Conv2d(n_feat, channels, 1)
            self.merge_pred = nn.Conv2d(n_pred, channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        f = self.features(self.hourglass(x))  # (B, C, h, w)
        out: dict[str, torch.Tensor] = {}
        hs, ts, ds = self.sparse(f)
        out["sparse_heatmaps"], out["sparse_tags"] = hs, ts
        feats, preds = [ds], [hs, ts]
        if self.dense is not None:
            hd, td, dd = self.dense(f)
            out["dense_heatmaps"], out["dense_tags"] = hd, td
            if self.align_pred is not None:  # cross-branch aggregation, Fig. 4b
                hd = hd + self.align_pred(hs)
                dd = dd + self.align_feat(ds)
            feats.append(dd)
            preds += [hd, td]
        if self.merge_feat is None:
            return out, None
        return out, x + self.merge_feat(torch.cat(feats, 1)) + self.merge_pred(torch.cat(preds, 1))


class ClusterNetModel(nn.Module):
    """images (B, 3, H, W) in [0, 1] → {"sparse_heatmaps": [S × (B, n_s, h, w)], "sparse_tags":
    [S × (B, n_s·L, h, w)], and "dense_*" alike when the dense branch exists}."""

    def __init__(self, channels: int, depth: int, stem_stride: int, sparse: Sequence[Clusters],
                 dense: Sequence[Clusters] | None, tag_dim: int, in_branch: bool, cross_branch: bool,
                 mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.stem = Stem(channels, stem_stride)
        n = len(sparse)
        self.stacks = nn.ModuleList(
            Stack(channels, depth, sparse[i], dense[i] if dense is not None else None, tag_dim, in_branch,
                  cross_branch, last=i == n - 1) for i in range(n))
        for s in self.stacks:
            for branch in (s.sparse, s.dense):
                if branch is not None:
                    nn.init.zeros_(branch.det_out.bias)
                    nn.init.normal_(branch.det_out.weight, std=0.001)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        x = self.stem((images - self.mean) / self.std)
        outs: dict[str, list[torch.Tensor]] = {}
        for stack in self.stacks:
            out, x = stack(x)
            for k, v in out.items():
                outs.setdefault(k, []).append(v)
        return outs
