"""CKLM (§3.2): a cascade of small encoder–decoders on each object's crop.

Every stage predicts ONE category-implicit heatmap (all keypoints of the object in one channel)
and x/y offset maps (Eq. 1). Stage s > 1 starts from stage s − 1's output features and
predictions, and — with ``cross_stage`` — each of its encoder levels is fused with the previous
stage's encoder and decoder features of that level by concatenation + a 1×1 transmission layer
(Eq. 2), as are the skip connections inside each decoder (Eq. 3). The last stage also gives a
unit-length embedding per cell for keypoint identity and graph node features.

Crop geometry: an object box becomes the square ``side = max(w, h) · padding`` around its centre,
sampled into ``crop × crop`` pixels; heatmap cell u (stride r) is centred at image
``x0 + r · (u + 0.5) · side / crop`` (kpdet.structures convention).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _transmission(cin: int, cout: int) -> nn.Sequential:
    """T in Eq. 2–3: a 1×1 convolution (+ BN, ReLU)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Stage(nn.Module):
    def __init__(self, in_ch: int, widths: Sequence[int], first: bool, cross_stage: bool):
        super().__init__()
        self.cross = cross_stage and not first
        self.enc = nn.ModuleList(_block(in_ch if i == 0 else widths[i - 1], w, 1 if i == 0 else 2)
                                 for i, w in enumerate(widths))
        if self.cross:  # Eq. 2: f_l,fine = T(C(f_l,coarse, enc_l^{s−1}, dec_l^{s−1}))
            self.fuse = nn.ModuleList(_transmission(3 * w, w) for w in widths)
        # Eq. 3: dec_{l−1} = T(C(up(dec_l), enc_{l−1}))
        self.dec = nn.ModuleList(_transmission(widths[i + 1] + widths[i], widths[i]) for i in range(len(widths) - 1))
        self.smooth = nn.ModuleList(_block(w, w) for w in widths[:-1])
        self.head = nn.Conv2d(widths[0], 3, 1)  # heatmap logit, offset x, offset y
        nn.init.constant_(self.head.bias, 0.0)
        with torch.no_grad():
            self.head.bias[0] = -4.0

    def forward(self, x: torch.Tensor, prev: tuple[list[torch.Tensor], list[torch.Tensor]] | None):
        """x (M, in_ch, h, w) → (encoder feats, decoder feats finest first, preds (M, 3, h, w))."""
        enc = []
        for i, layer in enumerate(self.enc):
            x = layer(x)
            if self.cross:
                x = self.fuse[i](torch.cat([x, prev[0][i], prev[1][i]], 1))
            enc.append(x)
        dec = [enc[-1]]
        for i in range(len(enc) - 2, -1, -1):
            up = F.interpolate(dec[0], size=enc[i].shape[-2:], mode="bilinear", align_corners=False)
            dec.insert(0, self.smooth[i](self.dec[i](torch.cat([up, enc[i]], 1))))
        return enc, dec, self.head(dec[0])


class Cklm(nn.Module):
    def __init__(self, stages: int, widths: Sequence[int], heatmap_stride: int, embed_dim: int, cross_stage: bool):
        super().__init__()
        layers = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
        s = heatmap_stride
        while s > 1:
            layers += [nn.Conv2d(widths[0], widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]),
                       nn.ReLU(inplace=True)]
            s //= 2
        self.stem = nn.Sequential(*layers)
        self.stages = nn.ModuleList(Stage(widths[0], widths, i == 0, cross_stage) for i in range(stages))
        # stage s > 1 input: T(C(dec_0^{s−1}, its predictions))
        self.inputs = nn.ModuleList(_transmission(widths[0] + 3, widths[0]) for _ in range(stages - 1))
        self.embed = nn.Sequential(_block(widths[0], widths[0]), nn.Conv2d(widths[0], embed_dim, 1))

    def forward(self, crops: torch.Tensor) -> dict[str, torch.Tensor]:
        """crops (M, 3, S, S) normalised → heat (M, S_st, h, w) logits, offsets (M, S_st, 2, h, w),
        embed (M, D, h, w) unit length."""
        x = self.stem(crops)
        preds, prev = [], None
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = self.inputs[i - 1](torch.cat([prev[1][0], preds[-1]], 1))
            enc, dec, p = stage(x, prev)
            preds.append(p)
            prev = (enc, dec)
        p = torch.stack(preds, 1)  # (M, S_st, 3, h, w)
        return {"heat": p[:, :, 0], "offsets": p[:, :, 1:], "embed": F.normalize(self.embed(prev[1][0]), dim=1)}


def square_rois(boxes: torch.Tensor, padding: float) -> torch.Tensor:
    """boxes (M, 4) xyxy → (M, 4) square xyxy of side max(w, h) · padding around the centre."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = (boxes[:, 2:] - boxes[:, :2]).amax(1, keepdim=True).clamp_min(4.0) * padding
    return torch.cat([c - side / 2, c + side / 2], 1)


def crop(images: torch.Tensor, batch_index: torch.Tensor, rois: torch.Tensor, size: int) -> torch.Tensor:
    """images (B, 3, H, W), rois (M, 4) square xyxy in kpdet pixel coordinates → (M, 3, size, size)."""
    # torchvision's aligned=True puts pixel centres at +0.5; kpdet's are at integers
    r = torch.cat([batch_index[:, None].to(rois), rois + 0.5], 1)
    return roi_align(images, r, (size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True)


def image_to_cells(xy: torch.Tensor, rois: torch.Tensor, crop_size: int, stride: int) -> torch.Tensor:
    """xy (M, K, 2) image pixels → heatmap cells of each roi's crop."""
    scale = (rois[:, 2] - rois[:, 0])[:, None, None] * stride / crop_size  # image pixels per cell
    return (xy - rois[:, None, :2]) / scale - 0.5


def cells_to_image(uv: torch.Tensor, rois: torch.Tensor, crop_size: int, stride: int) -> torch.Tensor:
    scale = (rois[:, 2] - rois[:, 0])[:, None, None] * stride / crop_size
    return (uv + 0.5) * scale + rois[:, None, :2]


def kernel_sigma(k: int) -> float:
    """Gaussian σ of an OpenCV kernel of size k (the kernels 7/5/3 of §3.2.2)."""
    return 0.3 * ((k - 1) * 0.5 - 1) + 0.8


def heat_targets(uv: torch.Tensor, mask: torch.Tensor, shape: tuple[int, int], sigma: float):
    """uv (M, K, 2) cells, mask (M, K) → heat (M, h, w) max of Gaussians, nearest offset (M, 2, h, w),
    nearest distance (M, h, w)."""
    h, w = shape
    gy, gx = torch.meshgrid(torch.arange(h, device=uv.device, dtype=uv.dtype),
                            torch.arange(w, device=uv.device, dtype=uv.dtype), indexing="ij")
    dx = uv[..., 0, None, None] - gx  # (M, K, h, w)
    dy = uv[..., 1, None, None] - gy
    d2 = torch.where(mask[..., None, None], dx * dx + dy * dy, torch.full_like(dx, float("inf")))
    heat = torch.exp(-d2.amin(1) / (2 * sigma ** 2))
    near = d2.argmin(1, keepdim=True)  # (M, 1, h, w)
    off = torch.stack([dx.gather(1, near)[:, 0], dy.gather(1, near)[:, 0]], 1)
    return heat, off, d2.amin(1).sqrt()


def cklm_loss(out: dict[str, torch.Tensor], uv: torch.Tensor, mask: torch.Tensor, sigmas: Sequence[float],
              offset_radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1 summed over stages: BCE on the category-implicit heatmap (per labelled keypoint) and
    Smooth L1 on offsets near keypoints (per supervised cell)."""
    heat, offs = out["heat"].float(), out["offsets"].float()  # (M, S, h, w), (M, S, 2, h, w)
    n_kp = mask.sum().clamp_min(1)
    lh, lo = heat.new_zeros(()), heat.new_zeros(())
    for s in range(heat.shape[1]):
        t, off, dist = heat_targets(uv, mask, heat.shape[-2:], sigmas[s])
        lh = lh + F.binary_cross_entropy_with_logits(heat[:, s], t, reduction="sum") / n_kp
        near = (dist < offset_radius)[:, None].expand_as(off)
        if near.any():
            lo = lo + F.smooth_l1_loss(offs[:, s][near], off[near], beta=0.5)
    return lh, lo
