"""Deconvolution upsampling head (SimpleBaseline, Xiao et al. 2018, Sec. 2)."""

from __future__ import annotations

from typing import Sequence

from torch import nn


def _deconv_padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) so that a stride-2 transposed conv exactly doubles the size."""
    if kernel == 4:
        return 1, 0
    if kernel == 3:
        return 1, 1
    if kernel == 2:
        return 0, 0
    raise ValueError(f"deconvolution kernel must be 2, 3 or 4, got {kernel}")


class DeconvHead(nn.Sequential):
    """len(channels) × [ConvTranspose2d(stride 2) → BN → ReLU]: each layer doubles the resolution."""

    def __init__(self, in_channels: int, channels: Sequence[int], kernel: int = 4):
        layers: list[nn.Module] = []
        padding, output_padding = _deconv_padding(kernel)
        for c in channels:
            layers += [nn.ConvTranspose2d(in_channels, c, kernel, stride=2, padding=padding,
                                          output_padding=output_padding, bias=False),
                       nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            in_channels = c
        super().__init__(*layers)
        self.out_channels = in_channels
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
