"""FPN (Lin et al. 2017) with extra coarse levels and PANet's bottom-up path aggregation
(Liu et al. 2018), as used by KLPNet's DPAD (§3.1): C3…Cn → P3…P(n+e) → N3…N(n+e)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_act(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.SiLU(inplace=True))


class PathAggregationFPN(nn.Module):
    """in_channels: channels of the backbone levels (finest first, each 2× coarser than the last).
    extra_levels: further levels made by stride-2 convolutions of the coarsest (KLPNet: C8, C9
    from C7). Output: ``len(in_channels) + extra_levels`` maps of ``channels`` each, finest first."""

    def __init__(self, in_channels: Sequence[int], channels: int, extra_levels: int = 0):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(conv_bn_act(channels, channels) for _ in in_channels)
        self.extra = nn.ModuleList(conv_bn_act(channels, channels, 3, 2) for _ in range(extra_levels))
        n = len(in_channels) + extra_levels
        # bottom-up block (PANet Fig. 2): N_{i+1} = conv(conv_s2(N_i) + P_{i+1})
        self.down = nn.ModuleList(conv_bn_act(channels, channels, 3, 2) for _ in range(n - 1))
        self.fuse = nn.ModuleList(conv_bn_act(channels, channels) for _ in range(n - 1))

    @property
    def num_levels(self) -> int:
        return len(self.lateral) + len(self.extra)

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """feats [(B, C_i, H/s_i, W/s_i)] finest first → [(B, channels, H/s_i, W/s_i)]."""
        lat = [conv(f) for conv, f in zip(self.lateral, feats)]
        for i in range(len(lat) - 2, -1, -1):  # top-down pathway
            lat[i] = lat[i] + F.interpolate(lat[i + 1], size=lat[i].shape[-2:], mode="nearest")
        p = [sm(x) for sm, x in zip(self.smooth, lat)]
        for ex in self.extra:
            p.append(ex(p[-1]))
        n = [p[0]]
        for i in range(len(p) - 1):  # bottom-up augmented path
            down = self.down[i](n[-1])
            if down.shape[-2:] != p[i + 1].shape[-2:]:
                down = F.interpolate(down, size=p[i + 1].shape[-2:], mode="nearest")
            n.append(self.fuse[i](down + p[i + 1]))
        return n
