"""timm (and torchvision) backbones as feature extractors, built without downloading weights.

``Backbone("resnet50", out_indices=(-1,))`` returns the listed feature maps (deepest last).
``Backbone("torchvision/shufflenet_v2_x1_0")`` takes a torchvision model instead (timm has no
ShuffleNet), for the models whose top-level children run in sequence up to their pooling and
classifier: each level is the last child at a new output stride, as timm's ``features_only``.
Local weights can be loaded from a file (``.safetensors`` or a ``torch.save`` state dict read
with ``weights_only=True``); nothing is fetched over the network.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch
from torch import nn

from kpdet.errors import ConfigError


TORCHVISION = "torchvision/"


class Backbone(nn.Module):
    def __init__(self, name: str, out_indices: Sequence[int] = (-1,), weights: str | os.PathLike | None = None,
                 **kwargs):
        super().__init__()
        if name.startswith(TORCHVISION):
            self.body = TorchvisionFeatures(name[len(TORCHVISION):], out_indices, **kwargs)
            self.num_levels, self.indices = self.body.num_levels, self.body.indices
            self.channels, self.reductions = self.body.channels, self.body.reductions
            if weights is not None:
                self.load_weights(weights)
            return
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


class TorchvisionFeatures(nn.Module):
    """A torchvision classifier (no weights) cut into levels: the top-level children before the global
    pooling and classifier run in order; level i ends at the last child of the i-th output stride.
    Parameter names stay the torchvision ones (``stage2.0.branch1.0.weight``…), so its state dicts load."""

    HEADS = ("avgpool", "fc", "classifier", "dropout")

    def __init__(self, name: str, out_indices: Sequence[int], **kwargs):
        super().__init__()
        import torchvision

        try:
            model = torchvision.models.get_model(name, weights=None, **kwargs)
        except (ValueError, KeyError) as e:
            raise ConfigError(f"unknown torchvision backbone '{name}': {e}") from None
        for head in self.HEADS:
            if hasattr(model, head):
                delattr(model, head)
        self.order = [n for n, _ in model.named_children()]
        for n, child in model.named_children():
            self.add_module(n, child)
        x = torch.zeros(1, 3, 64, 64)  # a probe for each child's output stride and channels
        ends: list[tuple[int, int, int]] = []  # (child position, reduction, channels)
        for pos, child in enumerate(self._ordered()):
            x = child(x)
            reduction = 64 // x.shape[-1]
            if ends and ends[-1][1] == reduction:
                ends[-1] = (pos, reduction, x.shape[1])
            else:
                ends.append((pos, reduction, x.shape[1]))
        self.num_levels = len(ends)
        self.indices = tuple(sorted({i % self.num_levels for i in out_indices}))
        self.ends = [ends[i][0] for i in self.indices]
        self.channels = [ends[i][2] for i in self.indices]
        self.reductions = [ends[i][1] for i in self.indices]

    def _ordered(self) -> list[nn.Module]:
        return [getattr(self, n) for n in self.order]

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        out, x = [], images
        for pos, child in enumerate(self._ordered()):
            if pos > self.ends[-1]:
                break
            x = child(x)
            if pos in self.ends:
                out.append(x)
        return out
