"""The ``topdown`` method: SimpleBaseline (Xiao et al., ECCV 2018) with kpdet's data pipeline.

Score of a prediction (SimpleBaseline's rescoring): the mean maxval of the keypoints whose
maxval exceeds ``decoder.score_threshold`` (0 when none does), times the box score (1 for
ground-truth boxes). Keypoint scores are the maxvals clipped to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kpdet.codecs.heatmap import FlipTest, HeatmapDecoder, build_refine
from kpdet.data.instance_crops import CropAugment, InstanceCropDataset
from kpdet.data.transforms import ColorJitter, HalfBody, ScaleRotateJitter
from kpdet.errors import ConfigError
from kpdet.methods import register
from kpdet.methods.base import Method
from kpdet.methods.topdown.channels import ChannelBlocks, HeatmapTargets
from kpdet.methods.topdown.config import TopDownConfig
from kpdet.methods.topdown.model import TopDownNet
from kpdet.nn.backbones import Backbone
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction, Sample


@register
class TopDown(Method):
    name = "topdown"
    Config = TopDownConfig

    def __init__(self, cfg: TopDownConfig, schemas: dict[int, KeypointSchema]):
        super().__init__(cfg, schemas)
        self.blocks = ChannelBlocks.from_schemas(self.schemas)
        backbone = Backbone(cfg.backbone, (cfg.backbone_out_index,), weights=cfg.backbone_weights)
        r = backbone.reductions[-1]
        if cfg.input_size[0] % r or cfg.input_size[1] % r:
            raise ConfigError(f"input_size {list(cfg.input_size)} must be divisible by the backbone's output "
                              f"stride {r} ({cfg.backbone}, feature level {cfg.backbone_out_index})")
        self.net = TopDownNet(backbone, cfg.deconv_channels, cfg.deconv_kernel, self.blocks.total,
                              cfg.heatmap_stride, cfg.image_mean, cfg.image_std)
        for cat, halves in cfg.augment.half_body_split.items():
            k = self.blocks.sizes.get(cat)
            if k is None or any(not 0 <= i < k for half in halves for i in half):
                known = ", ".join(f"{c}: K={n}" for c, n in self.blocks.sizes.items())
                raise ConfigError(f"method.augment.half_body_split[{cat}]: expected 0-based keypoint indices "
                                  f"of a category with keypoints ({known})")
        self.register_buffer("flip_index", torch.as_tensor(self.blocks.flip_index), persistent=False)
        self.targets = HeatmapTargets(self.blocks, cfg.heatmap_size, cfg.heatmap_stride, cfg.sigma)
        d = cfg.decoder
        self.decoder = HeatmapDecoder(cfg.heatmap_stride, build_refine(d.refine),
                                      FlipTest(d.flip_shift_px) if d.flip_test else None)

    # -- data ---------------------------------------------------------------------------
    def augmentation(self) -> CropAugment:
        a = self.cfg.augment
        return CropAugment(
            jitter=ScaleRotateJitter(a.scale_factor, a.rotation_factor, a.rotation_prob),
            flip_prob=a.flip_prob,
            half_body=HalfBody(a.half_body_prob, a.half_body_min_keypoints, a.half_body_padding),
            color=ColorJitter(a.brightness, a.contrast, a.saturation, a.hue),
            halves={c: (list(up), list(low)) for c, (up, low) in a.half_body_split.items()},
        )

    def build_dataset(self, coco: Any, *, train: bool, boxes: Any = None) -> InstanceCropDataset:
        return InstanceCropDataset(coco, self.schemas, input_size=self.cfg.input_size,
                                   encode=self.targets if train or boxes is None else None, train=train,
                                   boxes=boxes, padding=self.cfg.box_padding,
                                   augment=self.augmentation() if train else None)

    def encode(self, sample: Sample) -> dict[str, Any]:
        return self.targets(sample)

    # -- model --------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(images)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted MSE averaged over supervised (sample, keypoint) heatmaps, × loss_weight."""
        pred = outputs["heatmaps"].float()  # (B, C, Hm, Wm); float32 even under mixed precision
        target = targets["heatmap"].to(pred)
        weight = (targets["weight"] if self.cfg.use_target_weight else targets["mask"]).to(pred)  # (B, C)
        per_map = (pred - target).pow(2).mean(dim=(2, 3))  # (B, C)
        loss = (per_map * weight).sum() / weight.sum().clamp_min(1.0)
        return {"heatmap": loss * self.cfg.loss_weight}

    @torch.no_grad()
    def decode(self, outputs: dict[str, torch.Tensor], meta: list[dict[str, Any]]) -> list[Prediction]:
        heatmaps = outputs["heatmaps"]  # (B, C, Hm, Wm)
        if not meta:
            return []
        cats = [int(m["category_id"]) for m in meta]
        index = torch.as_tensor(self.blocks.gather_index(cats), device=heatmaps.device)  # (B, K_max)
        rows = torch.arange(len(meta), device=heatmaps.device)[:, None]
        per_item = heatmaps[rows, index]  # (B, K_max, Hm, Wm)
        crop_to_image = torch.as_tensor(np.stack([m["crop_to_image"] for m in meta]), dtype=torch.float32,
                                        device=heatmaps.device)  # (B, 2, 3)
        points, maxvals = self.decoder.decode(per_item, crop_to_image)  # (B, K_max, 2), (B, K_max)
        ks = torch.as_tensor([self.blocks.sizes[c] for c in cats], device=heatmaps.device)
        valid = torch.arange(index.shape[1], device=heatmaps.device)[None] < ks[:, None]  # (B, K_max)
        confident = (maxvals > self.cfg.decoder.score_threshold) & valid
        kp_score = (maxvals * confident).sum(1) / confident.sum(1).clamp_min(1)  # (B,)
        box_scores = torch.as_tensor([float(m.get("box_score", 1.0)) for m in meta], device=heatmaps.device)
        keypoints = torch.cat([points, maxvals.clamp(0, 1)[..., None]], dim=-1).double().cpu().numpy()
        scores = (kp_score * box_scores).double().cpu().numpy()
        return [Prediction(int(m["image_id"]), c, keypoints[i, : self.blocks.sizes[c]], float(scores[i]),
                           np.asarray(m.get("bbox"), np.float64) if m.get("bbox") is not None else None)
                for i, (m, c) in enumerate(zip(meta, cats))]

    @torch.no_grad()
    def predict_batch(self, images: torch.Tensor, meta: list[dict[str, Any]]) -> list[Prediction]:
        """Forward (+ flip test when configured) and decode."""
        heatmaps = self.decoder.heatmaps(lambda x: self(x)["heatmaps"], images, self.flip_index)
        return self.decode({"heatmaps": heatmaps}, meta)

    @classmethod
    def example_input(cls, cfg: TopDownConfig) -> torch.Tensor:
        if not isinstance(cfg, TopDownConfig):
            cfg = TopDownConfig.model_validate(cfg)
        return torch.zeros(1, 3, *cfg.input_size)
