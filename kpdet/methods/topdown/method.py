"""The ``topdown`` method: SimpleBaseline (Xiao et al., ECCV 2018) with kpdet's data pipeline.

Score of a prediction (SimpleBaseline's rescoring): the mean maxval of the keypoints whose
maxval exceeds ``decoder.score_threshold`` (0 when none does), times the box score (1 for
ground-truth boxes). Keypoint scores are the maxvals clipped to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kpdet.codecs.heatmap import FlipTest, GaussianFilter, HeatmapDecoder, build_refine
from kpdet.codecs.pose_nms import PoseNMS
from kpdet.data.instance_crops import CropAugment, InstanceCropDataset
from kpdet.data.transforms import ColorJitter, HalfBody, ScaleRotateJitter
from kpdet.errors import ConfigError
from kpdet.methods import register
from kpdet.methods.base import Method
from kpdet.methods.topdown.channels import ChannelBlocks, HeatmapTargets
from kpdet.methods.topdown.config import TopDownConfig
from kpdet.methods.topdown.model import build_net
from kpdet.methods.topdown.strategies import training_sets
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction, Sample


@register
class TopDown(Method):
    name = "topdown"
    Config = TopDownConfig

    def __init__(self, cfg: TopDownConfig, schemas: dict[int, KeypointSchema]):
        super().__init__(cfg, schemas)
        self.blocks = ChannelBlocks.from_schemas(self.schemas)
        self.net = build_net(cfg, self.blocks.total)
        for cat, halves in cfg.augment.half_body_split.items():
            k = self.blocks.sizes.get(cat)
            if k is None or any(not 0 <= i < k for half in halves for i in half):
                known = ", ".join(f"{c}: K={n}" for c, n in self.blocks.sizes.items())
                raise ConfigError(f"method.augment.half_body_split[{cat}]: expected 0-based keypoint indices "
                                  f"of a category with keypoints ({known})")
        self.register_buffer("flip_index", torch.as_tensor(self.blocks.flip_index), persistent=False)
        self.targets = HeatmapTargets(self.blocks, cfg.heatmap_size, cfg.heatmap_stride, cfg.sigma)
        d = cfg.decoder
        flip = None
        if d.flip_test:
            flip = (FlipTest.subpixel_shift(d.flip_ssp_r, cfg.heatmap_stride) if d.flip_ssp_r is not None
                    else FlipTest(d.flip_shift_px))
        self.decoder = HeatmapDecoder(cfg.heatmap_stride, build_refine(d.refine), flip,
                                      GaussianFilter(d.gaussian_kernel) if d.gaussian_filter else None)
        self.pose_nms = PoseNMS(d.nms, d.nms_threshold)
        if cfg.strategies.init_weights:
            self.init_from(cfg.strategies.init_weights)

    def init_from(self, path: str) -> None:
        """Fine-tune stage (CCM Eq. 10): copy a kpdet checkpoint's weights whose names and shapes match;
        the rest (e.g. the prediction layer of another keypoint set) keep their initialisation."""
        from kpdet.engine.checkpoint import inference_weights, load_checkpoint

        state = inference_weights(load_checkpoint(path))
        own = self.state_dict()
        fit = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not fit:
            raise ConfigError(f"{path}: no weight fits this model (method.strategies.init_weights)")
        self.load_state_dict(fit, strict=False)
        self.init_report = {"loaded": len(fit), "skipped": len(own) - len(fit)}

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

    def build_dataset(self, coco: Any, *, train: bool, boxes: Any = None) -> torch.utils.data.Dataset:
        """Test: one crop per box. Train: the ground-truth crops plus CCM's extra sets when configured
        (hard negatives, pseudo-labels, remapped datasets; :mod:`.strategies`)."""
        main = InstanceCropDataset(coco, self.schemas, input_size=self.cfg.input_size,
                                   encode=self.targets if train or boxes is None else None, train=train,
                                   boxes=boxes, padding=self.cfg.box_padding,
                                   augment=self.augmentation() if train else None)
        if not train:
            return main
        extra = training_sets(self, coco, dict(input_size=self.cfg.input_size, encode=self.targets,
                                               padding=self.cfg.box_padding, augment=self.augmentation()))
        return torch.utils.data.ConcatDataset([main, *extra]) if extra else main

    def encode(self, sample: Sample) -> dict[str, Any]:
        return self.targets(sample)

    # -- model --------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(images)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted MSE averaged over supervised (sample, keypoint) heatmaps, × loss_weight; with the
        auxiliary decoder, L = L_main + λ·L_aux (CCM Eq. 9)."""
        terms = {"heatmap": self._mse(outputs["heatmaps"], targets) * self.cfg.loss_weight}
        if "aux_heatmaps" in outputs:
            terms["aux_heatmap"] = self._mse(outputs["aux_heatmaps"], targets) * (
                self.cfg.loss_weight * self.cfg.head.aux_weight)
        return terms

    def _mse(self, heatmaps: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        pred = heatmaps.float()  # (B, C, Hm, Wm); float32 even under mixed precision
        target = targets["heatmap"].to(pred)
        weight = (targets["weight"] if self.cfg.use_target_weight else targets["mask"]).to(pred)  # (B, C)
        per_map = (pred - target).pow(2).mean(dim=(2, 3))  # (B, C), CCM Eq. 8
        return (per_map * weight).sum() / weight.sum().clamp_min(1.0)

    @torch.no_grad()
    def decode(self, outputs: dict[str, torch.Tensor], meta: list[dict[str, Any]]) -> list[Prediction]:
        return self._decode(outputs["heatmaps"], meta)

    def _decode(self, heatmaps: torch.Tensor, meta: list[dict[str, Any]], mirrored: torch.Tensor | None = None
                ) -> list[Prediction]:
        """heatmaps (B, C, Hm, Wm); mirrored (B, C, Hm, Wm): the maps of the mirrored crops when the
        flip test is left to the decoder (channels swapped here, with the per-category gather)."""
        if not meta:
            return []
        cats = [int(m["category_id"]) for m in meta]
        index = torch.as_tensor(self.blocks.gather_index(cats), device=heatmaps.device)  # (B, K_max)
        rows = torch.arange(len(meta), device=heatmaps.device)[:, None]
        identity = index.shape[1] == heatmaps.shape[1] and bool(
            (index == torch.arange(index.shape[1], device=index.device)).all())
        per_item = heatmaps if identity else heatmaps[rows, index]  # (B, K_max, Hm, Wm); one category: no copy
        flip_index = self.flip_index
        if mirrored is not None and not identity:
            mirrored, flip_index = mirrored[rows, self.flip_index[index]], None  # (B, K_max, Hm, Wm) swapped
        crop_to_image = torch.as_tensor(np.stack([m["crop_to_image"] for m in meta]), dtype=torch.float32,
                                        device=heatmaps.device)  # (B, 2, 3)
        # points (B, K_max, 2), maxvals (B, K_max)
        points, maxvals = self.decoder.decode(per_item, crop_to_image, mirrored, flip_index)
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
        """Forward (+ flip test when configured: a second forward on the mirrored crops, averaged
        inside the decoder's peak search) and decode."""
        heatmaps = self(images)["heatmaps"]
        if self.decoder.flip is None:
            return self._decode(heatmaps, meta)
        return self._decode(heatmaps, meta, mirrored=self(images.flip(-1))["heatmaps"])

    def postprocess(self, predictions: list[Prediction]) -> list[Prediction]:
        """Pose NMS per (image, category) over all predictions (``decoder.nms``; CCM Eq. 23–24)."""
        if self.pose_nms.mode == "none" or not predictions:
            return predictions
        out: list[Prediction] = []
        for cat in sorted({p.category_id for p in predictions}):
            preds = [p for p in predictions if p.category_id == cat]
            kps = torch.as_tensor(np.stack([p.keypoints for p in preds]), dtype=torch.float64)  # (N, K, 3)
            boxes = [p.bbox if p.bbox is not None else _extent(p.keypoints) for p in preds]
            areas = torch.as_tensor([float(b[2] * b[3]) for b in boxes], dtype=torch.float64)
            scores = torch.as_tensor([p.score for p in preds], dtype=torch.float64)
            groups = torch.as_tensor([p.image_id for p in preds])
            sigmas = torch.as_tensor(self.schemas[cat].sigma_array(warn=False), dtype=torch.float64)
            keep, points = self.pose_nms(kps[..., :2], scores, areas, groups, sigmas)
            kps[..., :2] = points
            out += [Prediction(p.image_id, cat, kps[i].numpy(), p.score, p.bbox, p.links)
                    for i, p in enumerate(preds) if keep[i]]
        return out

    @classmethod
    def example_input(cls, cfg: TopDownConfig) -> torch.Tensor:
        if not isinstance(cfg, TopDownConfig):
            cfg = TopDownConfig.model_validate(cfg)
        return torch.zeros(1, 3, *cfg.input_size)


def _extent(keypoints: np.ndarray) -> np.ndarray:
    xy = np.asarray(keypoints, np.float64)[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    return np.array([lo[0], lo[1], *(hi - lo)])
