"""timm backbones as feature extractors, built without downloading weights.

``Backbone("resnet50", out_indices=(-1,))`` returns the listed feature maps (deepest last).
Local weights can be loaded from a file (``.safetensors`` or a ``torch.save`` state dict read
with ``weights_only=True``); nothing is fetched over the network.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch
from torch import nn

from kpdet.errors import ConfigError


class Backbone(nn.Module):
    def __init__(self, name: str, out_indices: Sequence[int] = (-1,), weights: str | os.PathLike | None = None,
                 **kwargs):
        super().__init__()
        import timm

        try:
            probe = timm.create_model(name, pretrained=False, features_only=True, **kwargs)
        except RuntimeError as e:  # timm raises RuntimeError for unknown names
            raise ConfigError(f"unknown timm backbone '{name}': {e}") from None
        n = len(probe.feature_info)
        indices = tuple(sorted({i % n for i in out_indices}))
        self.num_levels = n
        self.indices = indices  # timm feature levels returned by forward, in order
        self.body = timm.create_model(name, pretrained=False, features_only=True, out_indices=indices, **kwargs)
        self.channels: list[int] = self.body.feature_info.channels()
        self.reductions: list[int] = self.body.feature_info.reduction()
        if weights is not None:
            self.load_weights(weights)

    def load_weights(self, path: str | os.PathLike) -> None:
        path = str(path)
        if not os.path.isfile(path):
            raise ConfigError(f"backbone weights file not found: {path}")
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
        result = self.body.load_state_dict(state, strict=False)
        if len(result.missing_keys) == len(self.body.state_dict()):
            raise ConfigError(f"{path}: no parameter name matches backbone '{type(self.body).__name__}'")

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """images (B, 3, H, W) → [features (B, C_i, H/r_i, W/r_i)] for each out index."""
        return self.body(images)
