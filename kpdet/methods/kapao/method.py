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
from kpdet.methods.kapao.decode import Detections, min_confidence, raw_candidates, select
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
        cand = self.candidates(outputs, fusion)
        return self.to_predictions(self.detections(cand, fusion), meta)

    @torch.no_grad()
    def predict_batch(self, images: torch.Tensor, meta: list[dict[str, Any]], *,
                      fusion: bool | None = None) -> list[Prediction]:
        """Forward and decode; with ``inference.tta`` the candidates of the scaled and the flipped
        images are mapped back and concatenated before thresholds and NMS (KAPAO Sec. 4.1)."""
        if not self.cfg.inference.tta:
            return self.decode(self(images), meta, fusion=fusion)
        parts = [self._scaled_candidates(images, s, fusion) for s in self.cfg.inference.tta_scales]
        parts.append(self._flipped_candidates(images, fusion))
        cand = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        order = torch.argsort(cand["image"], stable=True)  # per image: scale by scale, then the flip
        cand = {k: v[order] for k, v in cand.items()}
        return self.to_predictions(self.detections(cand, fusion), meta)

    def candidates(self, outputs: list[torch.Tensor], fusion: bool | None = None) -> dict[str, torch.Tensor]:
        """The anchors that may pass the confidence thresholds, decoded (see decode.raw_candidates)."""
        return raw_candidates(outputs, self.anchors, self.layout.num_classes,
                              min_confidence(self.cfg.inference, fusion))

    def detections(self, cand: dict[str, torch.Tensor], fusion: bool | None = None) -> Detections:
        inf = self.cfg.inference
        return select(cand, self.layout.num_pose_classes, self.kp_owner, self.kp_index, inf,
                      inf.fusion_distance * self.cfg.input_size, fusion)

    def _scaled_candidates(self, images: torch.Tensor, scale: float, fusion: bool | None) -> dict[str, torch.Tensor]:
        if scale == 1.0:
            return self.candidates(self(images), fusion)
        h, w = images.shape[-2:]
        sh, sw = round(h * scale), round(w * scale)
        x = F.interpolate(images, size=(sh, sw), mode="bilinear", align_corners=False)
        ph, pw = -(-sh // 64) * 64 - sh, -(-sw // 64) * 64 - sw
        x = F.pad(x, (0, pw, 0, ph), value=FILL / 255)
        cand = self.candidates(self(x), fusion)
        rx, ry = sw / w, sh / h
        cand["box"] = cand["box"] / torch.tensor([rx, ry, rx, ry], device=x.device)
        cand["box"][:, :2] += torch.tensor([0.5 / rx - 0.5, 0.5 / ry - 0.5], device=x.device)
        cand["kps"] = (cand["kps"] + 0.5) / torch.tensor([rx, ry], device=x.device) - 0.5
        return cand

    def _flipped_candidates(self, images: torch.Tensor, fusion: bool | None) -> dict[str, torch.Tensor]:
        w = images.shape[-1]
        cand = self.candidates(self(images.flip(-1)), fusion)
        cand["box"][:, 0] = w - 1 - cand["box"][:, 0]
        cand["cls"] = cand["cls"][:, self.flip_class]
        pose_cls = cand["cls"][:, : self.layout.num_pose_classes].argmax(-1)  # (M,)
        perm = self.flip_kp[pose_cls]  # (M, K) keypoint order of the mirrored pose
        kps = cand["kps"].clone()
        kps[..., 0] = w - 1 - kps[..., 0]
        cand["kps"] = torch.gather(kps, 1, perm[..., None].expand_as(kps))
        return cand

    def to_predictions(self, dets: Detections, meta: list[dict[str, Any]]) -> list[Prediction]:
        """Map input-pixel detections to each image's original coordinates (float64, on the CPU)."""
        if len(dets.score) == 0:
            return []
        image = dets.image.cpu().numpy()
        to_image = np.stack([np.asarray(x["input_to_image"], np.float64) for x in meta])[image]  # (P, 2, 3)
        kps = dets.keypoints.cpu().numpy().astype(np.float64)  # (P, K, 3)
        pts = np.concatenate([dets.box.cpu().numpy().reshape(-1, 2, 2), kps[..., :2]], 1)  # (P, 2 + K, 2)
        pts = pts @ to_image[:, :, :2].transpose(0, 2, 1) + to_image[:, None, :, 2]  # x' = A x + t
        box = np.concatenate([pts[:, 0], pts[:, 1] - pts[:, 0]], 1)  # (P, 4) COCO xywh
        kps[..., :2] = pts[:, 2:]
        ids = [int(x["image_id"]) for x in meta]
        lay = self.layout
        cls = dets.pose_class.tolist()
        return [Prediction(ids[i], lay.category_ids[c], kps[n, : lay.num_keypoints[c]], s, box[n])
                for n, (i, c, s) in enumerate(zip(image.tolist(), cls, dets.score.double().tolist()))]

    @classmethod
    def example_input(cls, cfg: KapaoConfig) -> torch.Tensor:
        if not isinstance(cfg, KapaoConfig):
            cfg = KapaoConfig.model_validate(cfg)
        return torch.zeros(1, 3, cfg.input_size, cfg.input_size)
