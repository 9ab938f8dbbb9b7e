"""The ``coke`` method: contrastive keypoint learning (Bai et al., CoKe) on object crops.

Training step (loss): read keypoint features f_k at the labelled keypoints' cells and 20 hard
clutter features per crop; with the banks frozen (cloned), compute Eq. 6 over {own
category's prototypes ∪ clutter bank} and Eq. 7; then update the keypoint bank (Eq. 4) and
push the crop's clutter group into the clutter bank (FIFO). The engine calls ``loss`` once per
(micro-)batch in training mode, so the banks move with the feature extractor.

Inference: the prototypes are 1×1 convolution kernels over the feature map (Fig. 3): each
crop is convolved with its own category's prototypes in one batched product for the whole
batch (several categories at once), argmax per keypoint → crop pixels → image pixels.
Keypoint score: exp((r − 1)/τ) of the maximum cosine response r (1 at a perfect match);
instance score: their mean × the box score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kpdet.codecs.heatmap import HeatmapDecoder, build_refine
from kpdet.data.instance_crops import CropAugment, InstanceCropDataset
from kpdet.data.transforms import ColorJitter, ScaleRotateJitter
from kpdet.errors import ConfigError
from kpdet.methods import register
from kpdet.methods.base import Method
from kpdet.methods.coke.banks import ClutterBank, KeypointBank
from kpdet.methods.coke.config import CokeConfig
from kpdet.methods.coke.layout import CokeTargets, PrototypeLayout
from kpdet.methods.coke.loss import clutter_sampling_loss, keypoint_nll
from kpdet.methods.coke.model import build_extractor
from kpdet.methods.coke.sampling import gather_cells, keypoint_cells, sample_clutter
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction, Sample


def prototype_responses(features: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """features (B, D, H, W), prototypes (P, D) → responses (B, P, H, W): prototypes as 1×1 kernels."""
    return F.conv2d(features, prototypes[:, :, None, None].to(features))


@register
class Coke(Method):
    name = "coke"
    Config = CokeConfig

    def __init__(self, cfg: CokeConfig, schemas: dict[int, KeypointSchema]):
        super().__init__(cfg, schemas)
        self.layout = PrototypeLayout.from_schemas(self.schemas)
        self.net = build_extractor(cfg)
        r = self.net.max_reduction
        if cfg.input_size[0] % r or cfg.input_size[1] % r:
            trunk = cfg.backbone if cfg.extractor == "backbone" else "hourglass"
            raise ConfigError(f"method.input_size {list(cfg.input_size)} must be divisible by the feature "
                              f"extractor's coarsest stride {r} ({trunk})")
        p, d = self.layout.total, cfg.feature_dim
        self.keypoint_bank = KeypointBank(p, d, cfg.momentum, cfg.bank_update, cfg.periodic_steps)
        self.clutter_bank = ClutterBank(cfg.clutter_groups, cfg.clutter_group_size, d)
        if cfg.objective == "classification":  # Table 6 "Class": a learned linear classifier
            self.classifier = nn.Linear(d, p)
        table, valid = self.layout.rows()
        owner = torch.as_tensor(self.layout.owner())
        self.register_buffer("row_table", torch.as_tensor(table), persistent=False)  # (C, K_max)
        self.register_buffer("row_valid", torch.as_tensor(valid), persistent=False)  # (C, K_max)
        self.register_buffer("category_rows", owner[None, :] == torch.arange(len(table))[:, None],
                             persistent=False)  # (C, P) rows of each category
        self.targets = CokeTargets(self.layout)
        self.decoder = HeatmapDecoder(cfg.feature_stride, build_refine(cfg.decoder.refine))

    # -- data ---------------------------------------------------------------------------
    def augmentation(self) -> CropAugment:
        a = self.cfg.augment
        return CropAugment(jitter=ScaleRotateJitter(a.scale_factor, a.rotation_factor, a.rotation_prob),
                           flip_prob=a.flip_prob, half_body=None,
                           color=ColorJitter(a.brightness, a.contrast, a.saturation, a.hue))

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

    def _allowed(self, category: torch.Tensor) -> torch.Tensor:
        """(N,) category index → (N, P) prototypes a feature is contrasted with (initialised ones only)."""
        if self.cfg.negatives == "all":
            allowed = torch.ones(len(category), self.layout.total, dtype=torch.bool, device=category.device)
        else:
            allowed = self.category_rows[category]
        return allowed & self.keypoint_bank.initialised[None]

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        features = outputs["features"].float()  # (B, D, H, W)
        b, d, h, w = features.shape
        kp = targets["keypoints"].to(features.device).float()  # (B, K_max, 3)
        cat = targets["category"].to(features.device).long()  # (B,)
        rows = self.row_table[cat]  # (B, K_max)
        cells, inside = keypoint_cells(kp, cfg.feature_stride, (h, w))
        labelled = (kp[..., 2] > 0) & self.row_valid[cat]
        min_v = 1 if cfg.supervise_hidden else 2
        supervised = labelled & inside & (kp[..., 2] >= min_v)  # (B, K_max)
        f_k = gather_cells(features, cells[..., 1] * w + cells[..., 0])  # (B, K_max, D)
        clutter_idx, clutter_ok = sample_clutter(kp, labelled, cfg.feature_stride, (h, w), cfg.clutter_group_size,
                                                 cfg.clutter_min_distance, cfg.clutter_near_scale,
                                                 cfg.clutter_uniform)
        f_c = gather_cells(features, clutter_idx)  # (B, S, D)

        bank = self.keypoint_bank
        sums, counts = bank.batch_statistics(f_k.reshape(-1, d), rows.reshape(-1), supervised.reshape(-1))
        fresh = bank.initialise_missing(sums, counts) if self.training else None
        mu = bank.prototypes.clone()  # frozen for this gradient step (Sec. 3.1.2)

        sel = supervised.reshape(-1)
        feats = f_k.reshape(-1, d)[sel]  # (N, D)
        target = rows.reshape(-1)[sel]  # (N,)
        item = torch.arange(b, device=features.device)[:, None].expand_as(rows).reshape(-1)[sel]
        allowed = self._allowed(cat[item]).scatter(1, target[:, None], True)
        terms: dict[str, torch.Tensor] = {}
        if cfg.objective == "classification":
            logits = self.classifier(feats).masked_fill(~self.category_rows[cat[item]], float("-inf"))
            nll = F.cross_entropy(logits, target, reduction="none") if len(target) else feats.sum(1) * 0
        else:
            clutter, clutter_mask = None, None
            if cfg.clutter == "bank":
                clutter, clutter_mask = self.clutter_bank.features.clone(), self.clutter_bank.valid
            elif cfg.clutter == "image":
                clutter, clutter_mask = f_c.detach()[item], clutter_ok[item]
            nll = keypoint_nll(feats, mu, target, allowed, clutter, clutter_mask, cfg.temperature)
        terms["keypoint"] = nll.sum() / max(len(nll), 1) if len(nll) else features.sum() * 0.0
        if cfg.clutter_loss and cfg.objective == "contrastive":
            c_feats = f_c[clutter_ok]  # (M, D)
            c_item = torch.arange(b, device=features.device)[:, None].expand_as(clutter_ok)[clutter_ok]
            terms["clutter"] = cfg.clutter_loss_weight * clutter_sampling_loss(c_feats, mu, self._allowed(cat[c_item]))

        if self.training:
            bank.update(sums, counts, skip=fresh)
            full = clutter_ok.all(dim=1)  # only complete groups enter the bank
            self.clutter_bank.push(f_c[full])
        return terms

    # -- inference ----------------------------------------------------------------------
    def decode_state(self) -> tuple[str, ...]:
        return ("keypoint_bank.prototypes",)  # the 1×1 detection kernels (Fig. 3)

    @torch.no_grad()
    def responses(self, features: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        """features (B, D, H, W), category (B,) index → (B, K_max, H, W) each crop's own block.

        Each crop's prototypes act as its 1×1 kernels; one batched matrix product serves every
        category of the batch at once and computes only the crop's own K responses (a shared
        convolution with all P prototypes, ``prototype_responses``, would compute P per crop)."""
        kernels = self.keypoint_bank.prototypes[self.row_table[category]]  # (B, K_max, D)
        return torch.einsum("bkd,bdhw->bkhw", kernels.to(features), features)

    @torch.no_grad()
    def locate(self, features: torch.Tensor, category: torch.Tensor, crop_to_image: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """→ points (B, K_max, 2) in image pixels, keypoint scores (B, K_max) in (0, 1]."""
        maps = self.responses(features, category)  # (B, K_max, H, W) cosine responses
        scores_map = torch.exp((maps - 1) / self.cfg.temperature)  # positive, monotone: refinement works on it
        return self.decoder.decode(scores_map, crop_to_image)

    @torch.no_grad()
    def decode(self, outputs: dict[str, torch.Tensor], meta: list[dict[str, Any]]) -> list[Prediction]:
        if not meta:
            return []
        features = outputs["features"].float()
        device = features.device
        cats = [int(m["category_id"]) for m in meta]
        cat_idx = torch.as_tensor([self.layout.index(c) for c in cats], device=device)
        crop_to_image = torch.as_tensor(np.stack([m["crop_to_image"] for m in meta]), dtype=torch.float32,
                                        device=device)  # (B, 2, 3)
        points, maxvals = self.locate(features, cat_idx, crop_to_image)  # (B, K_max, 2), (B, K_max)
        valid = self.row_valid[cat_idx]
        kp_score = (maxvals * valid).sum(1) / valid.sum(1)
        box_scores = torch.as_tensor([float(m.get("box_score", 1.0)) for m in meta], device=device)
        keypoints = torch.cat([points, maxvals.clamp(0, 1)[..., None]], dim=-1).double().cpu().numpy()
        scores = (kp_score * box_scores).double().cpu().numpy()
        sizes = [self.layout.sizes[int(i)] for i in cat_idx.tolist()]
        return [Prediction(int(m["image_id"]), c, keypoints[i, :k], float(scores[i]),
                           np.asarray(m.get("bbox"), np.float64) if m.get("bbox") is not None else None)
                for i, (m, c, k) in enumerate(zip(meta, cats, sizes))]

    @classmethod
    def example_input(cls, cfg: CokeConfig) -> torch.Tensor:
        if not isinstance(cfg, CokeConfig):
            cfg = CokeConfig.model_validate(cfg)
        return torch.zeros(1, 3, *cfg.input_size)
