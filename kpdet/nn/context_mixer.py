"""Context Mixer and its cascade (CCM, Zhang et al., IJCV 2022, Sec. 3.2, Eq. 1–6).

One Context Mixer (CM) maps ``f_{k-1}`` (B, C_in, H, W) to ``f_k`` (B, C_out, 2H, 2W)::

    RES = BN(1×1 conv(up2(f)))                                        # Eq. 1
    SE  = sigmoid(1×1 conv(ReLU(1×1 conv(GP(f)))))  C_in → C_out/r → C_out   # Eq. 2
    HDC = BN(deconv_s2(concat_d BN-ReLU(3×3 conv dilation d (f))))   # Eq. 3, d ∈ {1, 2, 3, 4}
    f_k = ReLU(HDC ⊙ SE + RES)                                         # Eq. 4

With ``upsample=False`` (the extra CMs on HRNet, Table 2 text) the deconvolution becomes a
3×3 convolution and the residual branch skips the up-sampling: the resolution is kept.

Decisions the paper leaves open: no BatchNorm inside the SE branch (it acts on a (B, C, 1, 1)
vector, where batch statistics of one value per sample are degenerate; SENet has none either),
bilinear up-sampling in the residual branch (aligned with a stride-2 deconvolution in the
pixel-centre convention), and the HDC deconvolution uses SimpleBaseline's 4×4 kernel.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def _conv_bn_relu(cin: int, cout: int, dilation: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ContextMixer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, *, upsample: bool = True,
                 dilations: Sequence[int] = (1, 2, 3, 4), se_reduction: int = 4, deconv_kernel: int = 4):
        super().__init__()
        if out_channels % len(dilations):
            raise ValueError(f"Context Mixer width {out_channels} must be divisible by the number of "
                             f"dilated branches {len(dilations)}")
        self.upsample = upsample
        branch = out_channels // len(dilations)
        self.res = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        hidden = max(out_channels // se_reduction, 1)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, hidden, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(hidden, out_channels, 1), nn.Sigmoid())
        self.dilated = nn.ModuleList(_conv_bn_relu(in_channels, branch, d) for d in dilations)
        merged = branch * len(dilations)
        if upsample:
            pad = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[deconv_kernel]
            fuse = nn.ConvTranspose2d(merged, out_channels, deconv_kernel, stride=2, padding=pad[0],
                                      output_padding=pad[1], bias=False)
        else:
            fuse = nn.Conv2d(merged, out_channels, 3, padding=1, bias=False)
        self.hdc = nn.Sequential(fuse, nn.BatchNorm2d(out_channels))
        self.out_channels = out_channels
        for m in self.modules():  # Gaussian initialisation of the decoder (Sec. 6.1)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """f (B, C_in, H, W) → (B, C_out, 2H, 2W), or (B, C_out, H, W) without up-sampling."""
        up = F.interpolate(f, scale_factor=2.0, mode="bilinear", align_corners=False) if self.upsample else f
        res = self.res(up)  # Eq. 1
        alpha = self.se(f)  # (B, C_out, 1, 1), Eq. 2
        hdc = self.hdc(torch.cat([branch(f) for branch in self.dilated], dim=1))  # Eq. 3
        return F.relu(hdc * alpha + res)  # Eq. 4


class CascadedContextMixer(nn.Sequential):
    """K Context Mixers in sequence (Eq. 6); ``channels[k]`` is C_k, ``upsample[k]`` whether CM k doubles
    the resolution (default: all do)."""

    def __init__(self, in_channels: int, channels: Sequence[int], upsample: Sequence[bool] | None = None,
                 *, dilations: Sequence[int] = (1, 2, 3, 4), se_reduction: int = 4, deconv_kernel: int = 4):
        upsample = [True] * len(channels) if upsample is None else list(upsample)
        if len(upsample) != len(channels):
            raise ValueError(f"{len(channels)} Context Mixer widths but {len(upsample)} up-sampling flags")
        mixers = []
        for c, up in zip(channels, upsample):
            mixers.append(ContextMixer(in_channels, c, upsample=up, dilations=dilations, se_reduction=se_reduction,
                                       deconv_kernel=deconv_kernel))
            in_channels = c
        super().__init__(*mixers)
        self.out_channels = in_channels
        self.scale = 2 ** sum(upsample)
