"""The ``kapao`` method: keypoints and poses as objects (McNally et al., ECCV 2022).

A YOLOv5-P6 detector predicts, per anchor of four output grids, pose objects (category box
+ K keypoints) and keypoint objects (class "category, keypoint k", a small b_s box centred on
the keypoint). Keypoint objects are fused into the pose objects at inference (Algorithm 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kpdet.methods import register
from kpdet.methods.base import Method
from kpdet.methods.kapao.config import KapaoConfig
from kpdet.methods.kapao.dataset import FILL, KapaoDataset, collate
from kpdet.methods.kapao.decode import Detections, raw_candidates, select
from kpdet.methods.kapao.layout import ClassLayout
from kpdet.methods.kapao.loss import kapao_loss
from kpdet.methods.kapao.model import KapaoNet
from kpdet.methods.kapao.targets import KapaoTargets
from kpdet.nn.csp_pan import STRIDES
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction, Sample


@register
class Kapao(Method):
    name = "kapao"
    Config = KapaoConfig

    def __init__(self, cfg: KapaoConfig, schemas: dict[int, KeypointSchema]):
        super().__init__(cfg, schemas)
        self.layout = ClassLayout.from_schemas(self.schemas)
        anchors = torch.tensor(cfg.anchor_pixels(), dtype=torch.float32)  # (4, Na, 2) input pixels
        self.register_buffer("anchors", anchors, persistent=False)
        lay = self.layout
        self.net = KapaoNet(cfg.width_multiple, cfg.depth_multiple, anchors.shape[1], lay.num_outputs,
                            lay.num_classes, cfg.input_size, cfg.image_mean, cfg.image_std)
        owner, index = lay.kp_class_table()
        self.register_buffer("kp_owner", torch.as_tensor(owner), persistent=False)
        self.register_buffer("kp_index", torch.as_tensor(index), persistent=False)
        self.register_buffer("flip_class", torch.as_tensor(lay.flip_class_index(self.schemas)), persistent=False)
        self.register_buffer("flip_kp", torch.as_tensor(lay.flip_keypoint_index(self.schemas)), persistent=False)
        self.targets = KapaoTargets(lay, cfg.kp_bbox, cfg.kp_min_visibility)

    # -- data ---------------------------------------------------------------------------
    def build_dataset(self, coco: Any, *, train: bool, boxes: Any = None) -> KapaoDataset:
        flip = {c: s.flip_index for c, s in self.schemas.items()}
        return KapaoDataset(coco, input_size=self.cfg.input_size, encode=self.targets, flip_index=flip,
                            augment=self.cfg.augment if train else None, rect=self.cfg.inference.rect)

    def encode(self, sample: Sample) -> dict[str, Any]:
        return self.targets(sample)

    def collate(self, items):
        return collate(items)

    # -- model --------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return self.net(images)

    def loss(self, outputs: list[torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return kapao_loss(outputs, targets["labels"], self.anchors, STRIDES, self.layout.num_classes, self.cfg.loss)

    @torch.no_grad()
    def decode(self, outputs: list[torch.Tensor], meta: list[dict[str, Any]], *,
               fusion: bool | None = None) -> list[Prediction]:
        cand = raw_candidates(outputs, self.anchors, self.layout.num_classes)
        return self._finish(cand, meta, fusion)

    @torch.no_grad()
    def predict_batch(self, images: torch.Tensor, meta: list[dict[str, Any]], *,
                      fusion: bool | None = None) -> list[Prediction]:
        """Forward and decode; with ``inference.tta`` the candidates of the scaled and the flipped
        images are mapped back and concatenated before thresholds and NMS (KAPAO Sec. 4.1)."""
        if not self.cfg.inference.tta:
            return self.decode(self(images), meta, fusion=fusion)
        parts = [self._scaled_candidates(images, s) for s in self.cfg.inference.tta_scales]
        parts.append(self._flipped_candidates(images))
        cand = {k: torch.cat([p[k] for p in parts], 1) for k in parts[0]}
        return self._finish(cand, meta, fusion)

    def detections(self, cand: dict[str, torch.Tensor], fusion: bool | None = None) -> Detections:
        inf = self.cfg.inference
        return select(cand, self.layout.num_pose_classes, self.kp_owner, self.kp_index, inf,
                      inf.fusion_distance * self.cfg.input_size, fusion)

    def _finish(self, cand: dict[str, torch.Tensor], meta: list[dict[str, Any]], fusion: bool | None):
        dets = self.detections(cand, fusion)
        return self.to_predictions(dets, meta)

    def _scaled_candidates(self, images: torch.Tensor, scale: float) -> dict[str, torch.Tensor]:
        if scale == 1.0:
            return raw_candidates(self(images), self.anchors, self.layout.num_classes)
        h, w = images.shape[-2:]
        sh, sw = round(h * scale), round(w * scale)
        x = F.interpolate(images, size=(sh, sw), mode="bilinear", align_corners=False)
        ph, pw = -(-sh // 64) * 64 - sh, -(-sw // 64) * 64 - sw
        x = F.pad(x, (0, pw, 0, ph), value=FILL / 255)
        cand = raw_candidates(self(x), self.anchors, self.layout.num_classes)
        rx, ry = sw / w, sh / h
        cand["box"] = cand["box"] / torch.tensor([rx, ry, rx, ry], device=x.device)
        cand["box"][..., :2] += torch.tensor([0.5 / rx - 0.5, 0.5 / ry - 0.5], device=x.device)
        cand["kps"] = (cand["kps"] + 0.5) / torch.tensor([rx, ry], device=x.device) - 0.5
        return cand

    def _flipped_candidates(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        w = images.shape[-1]
        cand = raw_candidates(self(images.flip(-1)), self.anchors, self.layout.num_classes)
        cand["box"][..., 0] = w - 1 - cand["box"][..., 0]
        cand["cls"] = cand["cls"][..., self.flip_class]
        pose_cls = cand["cls"][..., : self.layout.num_pose_classes].argmax(-1)  # (B, N)
        perm = self.flip_kp[pose_cls]  # (B, N, K) keypoint order of the mirrored pose
        kps = cand["kps"].clone()
        kps[..., 0] = w - 1 - kps[..., 0]
        cand["kps"] = torch.gather(kps, 2, perm[..., None].expand_as(kps))
        return cand

    def to_predictions(self, dets: Detections, meta: list[dict[str, Any]]) -> list[Prediction]:
        """Map input-pixel detections to each image's original coordinates."""
        if len(dets.score) == 0:
            return []
        m = torch.as_tensor(np.stack([np.asarray(x["input_to_image"], np.float64) for x in meta]),
                            dtype=torch.float32, device=dets.box.device)[dets.image]  # (P, 2, 3)
        lin, t = m[:, :, :2], m[:, :, 2]
        corners = dets.box.view(-1, 2, 2)  # (P, 2, 2) top-left, bottom-right
        box = torch.einsum("pij,pkj->pki", lin, corners) + t[:, None]
        kxy = torch.einsum("pij,pkj->pki", lin, dets.keypoints[..., :2]) + t[:, None]
        box = torch.cat([box[:, 0], box[:, 1] - box[:, 0]], 1).double().cpu().numpy()
        kps = torch.cat([kxy, dets.keypoints[..., 2:]], -1).double().cpu().numpy()
        img, cls = dets.image.cpu().numpy(), dets.pose_class.cpu().numpy()
        score = dets.score.double().cpu().numpy()
        ids = [int(x["image_id"]) for x in meta]
        lay = self.layout
        return [Prediction(ids[img[i]], lay.category_ids[cls[i]], kps[i, : lay.num_keypoints[cls[i]]],
                           float(score[i]), box[i]) for i in range(len(score))]

    @classmethod
    def example_input(cls, cfg: KapaoConfig) -> torch.Tensor:
        if not isinstance(cfg, KapaoConfig):
            cfg = KapaoConfig.model_validate(cfg)
        return torch.zeros(1, 3, cfg.input_size, cfg.input_size)
