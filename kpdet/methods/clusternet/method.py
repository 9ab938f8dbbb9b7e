"""The ``clusternet`` method: cluster-wise learning network (Zhao et al., Pattern Recognition 2020).

Bottom-up: whole images in, every stack's dense and sparse branches supervised with multi-peak
cluster heatmaps (Eq. 1) and cluster-wise tags (Eq. 2–7), total loss Eq. 8. Inference reads the
last stack's sparse branch (one cluster per keypoint), groups peaks by tags and maps them back
to the original image. One keypoint category per model (bottom-up grouping of one schema).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kpdet.codecs.heatmap import build_refine
from kpdet.data.transforms import ColorJitter
from kpdet.data.whole_images import ImageAugment, WholeImageDataset
from kpdet.errors import ConfigError
from kpdet.methods import register
from kpdet.methods.base import Method
from kpdet.methods.clusternet.clusters import Clusters
from kpdet.methods.clusternet.config import ClusterNetConfig
from kpdet.methods.clusternet.grouping import TagGrouper, fill_missing, top_peaks
from kpdet.methods.clusternet.loss import cluster_targets, detection_loss, read_tags, tag_losses
from kpdet.methods.clusternet.model import ClusterNetModel
from kpdet.methods.clusternet.targets import BottomUpTargets
from kpdet.ops.affine import apply_affine
from kpdet.ops.flip import flip_maps
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction, Sample, map_to_image


@register
class ClusterNet(Method):
    name = "clusternet"
    Config = ClusterNetConfig

    def __init__(self, cfg: ClusterNetConfig, schemas: dict[int, KeypointSchema]):
        super().__init__(cfg, schemas)
        cats = [c for c, s in sorted(self.schemas.items()) if s.num_keypoints > 0]
        if len(cats) != 1:
            raise ConfigError(f"clusternet groups the keypoints of one category; the dataset has {len(cats)} "
                              f"categories with keypoints ({cats})")
        self.category_id = cats[0]
        schema = self.schemas[self.category_id]
        k = self.num_keypoints = schema.num_keypoints
        groups = {int(n): g for n, g in cfg.cluster_groups.items()}
        self.sparse = [Clusters.build(k, n, groups, f"method.sparse_clusters[{i}]")
                       for i, n in enumerate(cfg.sparse_clusters)]
        self.dense = None if cfg.dense_clusters is None else [
            Clusters.build(k, n, groups, f"method.dense_clusters[{i}]") for i, n in enumerate(cfg.dense_clusters)]
        if not self.sparse[-1].is_identity:
            raise ConfigError(f"method.sparse_clusters[-1] must be {k} (one cluster per keypoint, in order): "
                              f"inference reads the keypoints from the last stack's sparse branch")
        self.net = ClusterNetModel(cfg.channels, cfg.hourglass_depth, cfg.stem_stride, self.sparse, self.dense,
                                   cfg.tag_dim, cfg.in_branch, cfg.cross_branch, cfg.image_mean, cfg.image_std)
        self.branches = [("sparse", self.sparse)] + ([("dense", self.dense)] if self.dense is not None else [])
        for bname, clusters in self.branches:
            for i, c in enumerate(clusters):
                self.register_buffer(f"{bname}_cluster_of_{i}", torch.as_tensor(c.cluster_of), persistent=False)
                self.register_buffer(f"{bname}_order_{i}", torch.as_tensor(c.order), persistent=False)
        self.register_buffer("flip_index", torch.as_tensor(schema.flip_index), persistent=False)
        self.targets = BottomUpTargets(k, cfg.heatmap_size, cfg.stem_stride, cfg.sigma, cfg.max_instances)
        d = cfg.decoder
        self.grouper = TagGrouper(d.detection_threshold, d.tag_threshold)
        self.refine = build_refine(d.refine)

    # -- data ---------------------------------------------------------------------------
    def build_dataset(self, coco: Any, *, train: bool, boxes: Any = None) -> WholeImageDataset:
        a = self.cfg.augment
        augment = ImageAugment(a.scale_min, a.scale_max, a.rotation, a.translate, a.flip_prob,
                               ColorJitter(a.brightness, a.contrast, a.saturation, a.hue))
        return WholeImageDataset(coco, {self.category_id: self.schemas[self.category_id]},
                                 input_size=self.cfg.input_size, encode=self.targets if train else None,
                                 train=train, augment=augment if train else None)

    def encode(self, sample: Sample) -> dict[str, Any]:
        return self.targets(sample)

    # -- model --------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        return self.net(images)

    def loss(self, outputs: dict[str, list[torch.Tensor]], targets: dict[str, torch.Tensor]
             ) -> dict[str, torch.Tensor]:
        """Eq. 8 summed over stacks and branches (intermediate supervision), × loss_scale."""
        cfg = self.cfg
        heat = targets["heatmap"].float()  # (B, K, Hm, Wm)
        mask = targets["mask"].float()  # (B, Hm, Wm)
        joints = targets["joints"].long()  # (B, N, K, 2)
        det = pull = push = heat.new_zeros(())
        for bname, clusters in self.branches:
            for i, c in enumerate(clusters):
                cluster_of = getattr(self, f"{bname}_cluster_of_{i}")
                pred = outputs[f"{bname}_heatmaps"][i].float()  # (B, n, Hm, Wm)
                det = det + detection_loss(pred, cluster_targets(heat, cluster_of, c.num), mask)
                tags = outputs[f"{bname}_tags"][i].float()
                tags = tags.reshape(tags.shape[0], c.num, cfg.tag_dim, *tags.shape[2:])  # (B, n, L, Hm, Wm)
                p, q = tag_losses(read_tags(tags, cluster_of, joints), joints[..., 1],
                                  getattr(self, f"{bname}_order_{i}"), cfg.offset_delta, cfg.push_margin)
                pull, push = pull + p, push + q
        s = cfg.loss_scale
        return {"det": det * cfg.lambda_det * s, "pull": pull * cfg.lambda_emb * s, "push": push * cfg.lambda_emb * s}

    # -- inference ----------------------------------------------------------------------
    def final_maps(self, outputs: dict[str, list[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """→ heatmaps (B, K, Hm, Wm), tags (B, K, L, Hm, Wm) of the last stack's sparse branch."""
        heat, tags = outputs["sparse_heatmaps"][-1].float(), outputs["sparse_tags"][-1].float()
        return heat, tags.reshape(heat.shape[0], heat.shape[1], -1, *heat.shape[2:])

    def export_outputs(self, outputs: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Only the last stack's sparse branch: the maps inference reads (:meth:`final_maps`)."""
        return {"sparse_heatmaps.0": outputs["sparse_heatmaps"][-1], "sparse_tags.0": outputs["sparse_tags"][-1]}

    @torch.no_grad()
    def decode(self, outputs: dict[str, list[torch.Tensor]], meta: list[dict[str, Any]]) -> list[Prediction]:
        return self.decode_maps(*self.final_maps(outputs), meta)

    @torch.no_grad()
    def decode_maps(self, heat: torch.Tensor, tags: torch.Tensor, meta: list[dict[str, Any]]) -> list[Prediction]:
        """heat (B, K, Hm, Wm), tags (B, K, L, Hm, Wm) → people in original image coordinates."""
        d = self.cfg.decoder
        if not meta:
            return []
        values, cells, tag_at = top_peaks(heat, tags, d.max_people, d.nms_kernel)
        values, cells, tag_at = (t.double().cpu().numpy() for t in (values, cells, tag_at))
        groups = []
        for b in range(len(meta)):
            people, means = self.grouper(values[b], cells[b], tag_at[b])
            if len(people) < d.min_instances:
                more, more_means = self.grouper(values[b], cells[b], tag_at[b], threshold=-np.inf)
                best = np.argsort(-more[..., 2].mean(1), kind="stable")[: d.min_instances - len(people)]
                people, means = np.concatenate([people, more[best]]), np.concatenate([means, more_means[best]])
            groups.append((people, means))
        p_max = max(len(p) for p, _ in groups)
        if p_max == 0:
            return []
        b, k, l = len(meta), self.num_keypoints, tags.shape[2]
        people = np.zeros((b, p_max, k, 3))
        means = np.zeros((b, p_max, l))
        valid = np.zeros((b, p_max), bool)
        for i, (p, m) in enumerate(groups):
            people[i, : len(p)], means[i, : len(p)], valid[i, : len(p)] = p, m, True
        people_t = torch.as_tensor(people, dtype=torch.float32, device=heat.device)
        if d.fill_missing:
            people_t = fill_missing(people_t, torch.as_tensor(means, dtype=torch.float32, device=heat.device),
                                    heat, tags, torch.as_tensor(valid, device=heat.device))
        # sub-pixel refinement by the shared decoder step, people folded into the channel axis
        rep = heat[:, torch.arange(k, device=heat.device).repeat(p_max)]  # (B, P·K, Hm, Wm)
        cells_ref = self.refine(rep, people_t[..., :2].reshape(b, p_max * k, 2)).reshape(b, p_max, k, 2)
        to_image = torch.as_tensor(np.stack([m["input_to_image"] for m in meta]), dtype=torch.float32,
                                   device=heat.device)  # (B, 2, 3)
        points = apply_affine(map_to_image(cells_ref, self.cfg.stem_stride).reshape(b, p_max * k, 2), to_image)
        points = points.reshape(b, p_max, k, 2).double().cpu().numpy()
        scores_kp = people_t[..., 2].clamp(0, 1).double().cpu().numpy()  # (B, P, K)
        out = []
        for i, m in enumerate(meta):
            for p in np.flatnonzero(valid[i]):
                kp = np.concatenate([points[i, p], scores_kp[i, p, :, None]], 1)
                lo, hi = kp[:, :2].min(0), kp[:, :2].max(0)
                out.append(Prediction(int(m["image_id"]), self.category_id, kp, float(scores_kp[i, p].mean()),
                                      np.concatenate([lo, hi - lo])))
        return out

    @torch.no_grad()
    def predict_batch(self, images: torch.Tensor, meta: list[dict[str, Any]]) -> list[Prediction]:
        """Forward at every test scale (and mirrored when flip_test): heatmaps averaged at the
        base map size, tags concatenated into one embedding (PoseAE's test-time augmentation)."""
        d = self.cfg.decoder
        size = images.shape[-2] // self.cfg.stem_stride, images.shape[-1] // self.cfg.stem_stride
        unit = self.cfg.stem_stride * 2**self.cfg.hourglass_depth
        heats, tags = [], []
        for s in d.test_scales:
            hw = [max(unit, int(round(v * s / unit)) * unit) for v in images.shape[-2:]]
            x = images if list(images.shape[-2:]) == hw else F.interpolate(images, size=hw, mode="bilinear",
                                                                          align_corners=False)
            views = [(x, False)] + ([(x.flip(-1), True)] if d.flip_test else [])
            for view, mirrored in views:
                h, t = self.final_maps(self(view))  # (B, K, h, w), (B, K, L, h, w)
                if mirrored:
                    h = flip_maps(h, self.flip_index)
                    t = t.flip(-1)[:, self.flip_index]
                if tuple(h.shape[-2:]) != size:
                    h = F.interpolate(h, size=size, mode="bilinear", align_corners=False)
                    t = F.interpolate(t.flatten(1, 2), size=size, mode="bilinear",
                                      align_corners=False).reshape(*t.shape[:3], *size)
                heats.append(h)
                tags.append(t)
        return self.decode_maps(torch.stack(heats).mean(0), torch.cat(tags, dim=2), meta)

    @classmethod
    def example_input(cls, cfg: ClusterNetConfig) -> torch.Tensor:
        if not isinstance(cfg, ClusterNetConfig):
            cfg = ClusterNetConfig.model_validate(cfg)
        return torch.zeros(1, 3, *cfg.input_size)
