"""Top-down network: backbone → decoder head → 1×1 conv to one heatmap per channel.

Heads: SimpleBaseline's deconvolutions, or CCM's cascaded Context Mixers with an optional
auxiliary decoder on the penultimate encoder stage (CCM Sec. 3.2.3, trained only: its heatmaps
are returned as ``aux_heatmaps`` and the main ones alone are decoded).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from kpdet.errors import ConfigError
from kpdet.nn.backbones import Backbone
from kpdet.nn.context_mixer import CascadedContextMixer
from kpdet.nn.deconv import DeconvHead


def _prediction_layer(in_channels: int, out_channels: int) -> nn.Conv2d:
    final = nn.Conv2d(in_channels, out_channels, kernel_size=1)  # CCM Eq. 7
    nn.init.normal_(final.weight, std=0.001)
    nn.init.zeros_(final.bias)
    return final


def _check_stride(reduction: int, ups: int, stride: int, what: str) -> None:
    if reduction != stride * 2**ups:
        need = math.log2(reduction / stride) if reduction >= stride else float("nan")
        raise ConfigError(f"backbone output stride {reduction} with {ups} up-sampling layer(s) in the {what} gives "
                          f"heatmap stride {reduction / 2**ups:g}, expected {stride}"
                          + (f" (use {need:g} up-sampling layers)" if need == int(need) else ""))


def build_head(cfg, in_channels: int, reduction: int, stride: int, *, aux: bool = False) -> nn.Module:
    """The decoder of ``cfg`` (a TopDownConfig) on features (B, in_channels, H/reduction, W/reduction).

    The auxiliary CCM decoder has the main one's widths; its CMs up-sample only while the
    resolution is coarser than the heatmap's (so it also fits an encoder level of another stride).
    """
    h = cfg.head
    if h.type == "deconv":
        _check_stride(reduction, len(cfg.deconv_channels), stride, "deconvolution head")
        head = DeconvHead(in_channels, cfg.deconv_channels, cfg.deconv_kernel)
        head.scale = 2 ** len(cfg.deconv_channels)
        return head
    if aux:
        upsample, r = [], reduction
        for _ in h.cm_channels:
            upsample.append(r > stride)
            r = r // 2 if r > stride else r
    else:
        upsample = h.cm_upsample if h.cm_upsample is not None else [True] * len(h.cm_channels)
    _check_stride(reduction, sum(upsample), stride, "auxiliary decoder" if aux else "Context Mixer cascade")
    return CascadedContextMixer(in_channels, h.cm_channels, upsample, dilations=h.dilations,
                                se_reduction=h.se_reduction, deconv_kernel=cfg.deconv_kernel)


class TopDownNet(nn.Module):
    """images (B, 3, H, W) in [0, 1] → {"heatmaps": (B, C, H/stride, W/stride)[, "aux_heatmaps": same]}."""

    def __init__(self, backbone: Backbone, head: nn.Module, out_channels: int, mean: Sequence[float],
                 std: Sequence[float], aux_head: nn.Module | None = None, main_level: int = -1, aux_level: int = 0):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.final = _prediction_layer(head.out_channels, out_channels)
        self.main_level, self.aux_level = main_level, aux_level
        self.aux_head = aux_head
        self.aux_final = _prediction_layer(aux_head.out_channels, out_channels) if aux_head is not None else None
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images - self.mean) / self.std
        features = self.backbone(x)  # [(B, C_i, H/r_i, W/r_i)]
        out = {"heatmaps": self.final(self.head(features[self.main_level]))}
        if self.aux_head is not None and self.training:
            out["aux_heatmaps"] = self.aux_final(self.aux_head(features[self.aux_level]))
        return out


def build_net(cfg, out_channels: int) -> TopDownNet:
    """The network of a TopDownConfig with ``out_channels`` heatmaps."""
    kwargs = dict(cfg.backbone_kwargs)
    if cfg.head.dilated_encoder:
        kwargs.setdefault("output_stride", 16)
    probe_levels = (cfg.backbone_out_index, cfg.head.aux_index) if cfg.head.aux_decoder else (cfg.backbone_out_index,)
    backbone = Backbone(cfg.backbone, probe_levels, weights=cfg.backbone_weights, **kwargs)
    n_levels, levels = backbone.num_levels, list(backbone.indices)
    main = levels.index(cfg.backbone_out_index % n_levels)
    r = backbone.reductions[main]
    h, w = cfg.input_size
    if h % r or w % r:
        raise ConfigError(f"input_size {list(cfg.input_size)} must be divisible by the backbone's output "
                          f"stride {r} ({cfg.backbone}, feature level {cfg.backbone_out_index})")
    head = build_head(cfg, backbone.channels[main], r, cfg.heatmap_stride)
    aux_head, aux = None, 0
    if cfg.head.aux_decoder:
        if cfg.head.type != "ccm":
            raise ConfigError("method.head.aux_decoder needs method.head.type: ccm")
        aux = levels.index(cfg.head.aux_index % n_levels)
        if aux == main:
            raise ConfigError(f"method.head.aux_index {cfg.head.aux_index} is the main feature level")
        aux_head = build_head(cfg, backbone.channels[aux], backbone.reductions[aux], cfg.heatmap_stride, aux=True)
    return TopDownNet(backbone, head, out_channels, cfg.image_mean, cfg.image_std, aux_head, main, aux)
