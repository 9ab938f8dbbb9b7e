"""Stacked-hourglass building blocks (Newell et al., ECCV 2016): residual unit, stem, one hourglass.

The stacking itself (what a stack predicts and how its outputs are fed to the next stack)
belongs to each method; these blocks only extract features.
"""

from __future__ import annotations

from torch import nn
import torch
import torch.nn.functional as F


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Residual(nn.Module):
    """Bottleneck residual unit (BN-ReLU-conv pre-activation, 1×1 → 3×3 → 1×1 at cout/2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = max(cout // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class Stem(nn.Module):
    """images (B, 3, H, W) → features (B, C, H/stride, W/stride); stride 1, 2 or 4.

    Stride 4 is the hourglass paper's stem (7×7/2 conv, residual, max-pool, residuals);
    smaller strides drop the pool and then the strided conv, for small CPU inputs.
    """

    def __init__(self, channels: int, stride: int = 4):
        super().__init__()
        if stride not in (1, 2, 4):
            raise ValueError(f"hourglass stem stride must be 1, 2 or 4, got {stride}")
        half = max(channels // 2, 1)
        layers: list[nn.Module] = [conv_bn_relu(3, min(64, channels), 7, 2 if stride > 1 else 1),
                                   Residual(min(64, channels), half)]
        if stride == 4:
            layers.append(nn.MaxPool2d(2, 2))
        layers += [Residual(half, half), Residual(half, channels)]
        self.body = nn.Sequential(*layers)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Hourglass(nn.Module):
    """(B, C, H, W) → (B, C, H, W): ``depth`` halvings, a residual at each scale on the way
    down and up, skip branches added after nearest-neighbour upsampling. H and W must be
    divisible by 2**depth."""

    def __init__(self, depth: int, channels: int, blocks: int = 1):
        super().__init__()
        self.depth = depth

        def unit() -> nn.Sequential:
            return nn.Sequential(*[Residual(channels, channels) for _ in range(blocks)])

        self.skip = unit()
        self.down = unit()
        self.inner = Hourglass(depth - 1, channels, blocks) if depth > 1 else unit()
        self.up = unit()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(x)
        y = self.up(self.inner(self.down(F.max_pool2d(x, 2))))
        return skip + F.interpolate(y, scale_factor=2, mode="nearest")
