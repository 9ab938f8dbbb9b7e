"""The ``klpnet`` method: DPAD detector → CKLM per object → keypoint identity → CLPGM links (+ LIS).

Training: the detector learns from whole images; CKLM, the prototypes and CLPGM learn from
crops of the ground-truth boxes (jittered like detections), inside ``loss`` — ``forward`` keeps
the normalised images in its outputs for that. Decoding: detections → crops → peaks of the
last stage's category-implicit heatmap → Hungarian matching to the category's prototypes
(missing identities fall back to the best cell of heat × identity probability) → LIS on
overlapping same-category objects → CLPGM link probabilities between the object's keypoints
(``Prediction.links``: i, j, p for p ≥ ``clpgm.output_threshold``). A prediction's score is its
box score; a keypoint's score is heat × identity probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kpdet.methods import register
from kpdet.methods.base import Method
from kpdet.methods.klpnet.cklm import (Cklm, cells_to_image, cklm_loss, crop, image_to_cells, kernel_sigma,
                                       square_rois)
from kpdet.methods.klpnet.clpgm import Clpgm, link_loss
from kpdet.methods.klpnet.config import KlpNetConfig
from kpdet.methods.klpnet.data import LetterboxDataset, ObjectTargets
from kpdet.methods.klpnet.detector import DenseHead, detect, detection_loss
from kpdet.methods.klpnet.identity import Prototypes, assign_peaks, sample_embed
from kpdet.methods.klpnet.lis import LocationInstability
from kpdet.nn.backbones import Backbone
from kpdet.nn.fpn import PathAggregationFPN
from kpdet.schema import KeypointSchema
from kpdet.structures import Prediction, Sample


@register
class KlpNet(Method):
    name = "klpnet"
    Config = KlpNetConfig

    def __init__(self, cfg: KlpNetConfig, schemas: dict[int, KeypointSchema]):
        super().__init__(cfg, schemas)
        self.cat_ids = sorted(c for c, s in self.schemas.items() if s.num_keypoints > 0)
        self.sizes = [self.schemas[c].num_keypoints for c in self.cat_ids]
        kmax, n_cat = max(self.sizes), len(self.cat_ids)
        d, k = cfg.detector, cfg.cklm
        self.backbone = Backbone(d.backbone, tuple(d.backbone_levels), weights=d.backbone_weights)
        self.neck = PathAggregationFPN(self.backbone.channels, d.channels, d.extra_levels)
        self.strides = [float(r) for r in self.backbone.reductions] + \
            [float(self.backbone.reductions[-1] * 2 ** (i + 1)) for i in range(d.extra_levels)]
        self.head = DenseHead(d.channels, self.neck.num_levels, n_cat, d.anchors)
        self.cklm = Cklm(k.stages, k.widths, k.heatmap_stride, k.embed_dim, k.cross_stage)
        self.prototypes = Prototypes(self.sizes, k.embed_dim, k.temperature)
        g = cfg.clpgm
        self.clpgm = Clpgm(k.embed_dim, n_cat, g.hidden, g.latent, g.knn)
        skel = torch.zeros(n_cat, kmax, kmax)
        for i, c in enumerate(self.cat_ids):
            for a, b in self.schemas[c].skeleton:
                skel[i, a, b] = skel[i, b, a] = 1
        self.register_buffer("skeleton", skel, persistent=False)  # (C, Kmax, Kmax) CLPGM targets
        self.register_buffer("sizes_t", torch.as_tensor(self.sizes), persistent=False)
        # LIS: running mean of keypoint distances / crop side per category (C, Kmax, Kmax)
        self.register_buffer("mean_dist", torch.zeros(n_cat, kmax, kmax))
        self.register_buffer("mean_dist_seen", torch.zeros(n_cat))
        self.lis = LocationInstability(cfg.lis) if cfg.lis.enabled else None
        self.targets = ObjectTargets({c: i for i, c in enumerate(self.cat_ids)}, kmax, cfg.max_objects)
        self.register_buffer("mean", torch.as_tensor(cfg.image_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.as_tensor(cfg.image_std).view(1, 3, 1, 1), persistent=False)

    # -- data ---------------------------------------------------------------------------
    def build_dataset(self, coco: Any, *, train: bool, boxes: Any = None) -> LetterboxDataset:
        """Whole images (``boxes`` are not used: KLPNet detects its own objects)."""
        return LetterboxDataset(coco, self.schemas, input_size=self.cfg.input_size, encode=self.targets,
                                train=train, flip_prob=self.cfg.flip_prob)

    def encode(self, sample: Sample) -> dict[str, Any]:
        """Padded boxes/classes/keypoints; heatmaps and graphs are rendered on the device in ``loss``."""
        return self.targets(sample)

    # -- model --------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> dict[str, Any]:
        x = (images - self.mean) / self.std  # (B, 3, S, S)
        return {"raw": self.head(self.neck(self.backbone(x))), "images": x}

    def _crops(self, images: torch.Tensor, bidx: torch.Tensor, boxes: torch.Tensor):
        k = self.cfg.cklm
        rois = square_rois(boxes, k.crop_padding)
        return rois, self.cklm(crop(images, bidx, rois, k.crop_size))

    def loss(self, outputs: dict[str, Any], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg, k, g = self.cfg, self.cfg.cklm, self.cfg.clpgm
        boxes, valid = targets["boxes"].float(), targets["valid"].bool()
        classes, kps = targets["classes"].long(), targets["keypoints"].float()
        det = detection_loss(outputs["raw"], self.strides, self.head.anchors, boxes, classes, valid,
                             cfg.detector.anchor_t)
        terms = {"box": det["box"] * cfg.detector.box_weight, "obj": det["obj"] * cfg.detector.obj_weight,
                 "cls": det["cls"] * cfg.detector.cls_weight}
        # CKLM / identity / CLPGM on up to instances_per_image jittered ground-truth crops per image
        use = valid & ((kps[..., 2] > 0).sum(-1) > 0)
        use = use & (use.long().cumsum(1) <= k.instances_per_image)
        bidx, n = torch.nonzero(use, as_tuple=True)
        if len(bidx) == 0:
            zero = outputs["images"].sum() * 0
            return {**terms, "heatmap": zero, "offset": zero, "identity": zero, "link": zero}
        b, cats, kp = boxes[bidx, n], classes[bidx, n], kps[bidx, n]  # (M, 4), (M,), (M, Kmax, 3)
        if self.training and k.box_jitter > 0:
            wh = b[:, 2:] - b[:, :2]
            shift = (torch.rand_like(wh) * 2 - 1) * k.box_jitter * wh
            grow = 1 + (torch.rand_like(wh) * 2 - 1) * k.box_jitter
            c = (b[:, :2] + b[:, 2:]) / 2 + shift
            b = torch.cat([c - wh * grow / 2, c + wh * grow / 2], 1)
        rois, out = self._crops(outputs["images"], bidx, b)
        hm = out["heat"].shape[-1]
        uv = image_to_cells(kp[..., :2], rois, k.crop_size, k.heatmap_stride)  # (M, Kmax, 2)
        mask = (kp[..., 2] > 0) & (uv >= -0.5).all(-1) & (uv <= hm - 0.5).all(-1)
        sigmas = [kernel_sigma(cfg.kernel(s)) for s in range(k.stages)]
        lh, lo = cklm_loss(out, uv, mask, sigmas, k.offset_radius)
        feats = sample_embed(out["embed"], uv)  # (M, Kmax, D)
        li = self.prototypes.loss(feats, cats, mask)
        terms.update(heatmap=cfg.alpha * k.heatmap_weight * lh, offset=cfg.alpha * k.offset_weight * lo,
                     identity=cfg.alpha * k.identity_weight * li)
        pos = uv / hm - 0.5
        if self.training and g.position_noise > 0:
            pos = pos + torch.randn_like(pos) * g.position_noise
        gout = self.clpgm(feats, pos, mask, cats, sample=self.training)
        lk = link_loss(gout, self.skeleton[cats], mask, cats)
        terms["link"] = cfg.beta * (lk["recon"] + g.kl_weight * lk["kl"] + g.category_weight * lk["category"])
        if self.training:
            self._update_distances(uv / hm, mask, cats)
        return terms

    @torch.no_grad()
    def _update_distances(self, pos: torch.Tensor, mask: torch.Tensor, cats: torch.Tensor) -> None:
        """Running mean of pairwise keypoint distances (in crop sides) per category, for LIS."""
        d = torch.cdist(pos.float(), pos.float())  # (M, K, K)
        both = (mask[:, :, None] & mask[:, None, :]).float()
        for c in cats.unique():
            sel = cats == c
            w = both[sel].sum(0)
            mean = (d[sel] * both[sel]).sum(0) / w.clamp_min(1)
            m = self.cfg.lis.momentum if self.mean_dist_seen[c] > 0 else 0.0
            self.mean_dist[c] = torch.where(w > 0, m * self.mean_dist[c] + (1 - m) * mean, self.mean_dist[c])
            self.mean_dist_seen[c] += 1

    # -- decoding -----------------------------------------------------------------------
    def decode_state(self) -> tuple[str, ...]:
        """Everything after the detector: CKLM runs on crops of the detections, then identities,
        CLPGM links and LIS's distance statistics."""
        return ("cklm", "prototypes", "clpgm", "mean_dist", "mean_dist_seen")

    def locate(self, out: dict[str, torch.Tensor], rois: torch.Tensor, cats: torch.Tensor) -> dict[str, torch.Tensor]:
        """Keypoints of each crop from its last-stage heatmap: peaks → identities (Hungarian)."""
        k = self.cfg.cklm
        heat = out["heat"][:, -1].float().sigmoid()  # (M, h, w)
        offs, embed = out["offsets"][:, -1].float(), out["embed"].float()  # (M, 2, h, w), (M, D, h, w)
        m, h, w = heat.shape
        kmax = max(self.sizes)
        peak = heat * (heat == F.max_pool2d(heat[:, None], 3, 1, 1)[:, 0])
        p_n = min(h * w, kmax + k.extra_peaks)
        score, idx = peak.flatten(1).topk(p_n)  # (M, P)
        cell = torch.stack([idx % w, idx // w], -1).float()
        off = offs.flatten(2).gather(2, idx[:, None].expand(-1, 2, -1)).transpose(1, 2)  # (M, P, 2)
        feats = embed.flatten(2).gather(2, idx[:, None].expand(-1, embed.shape[1], -1)).transpose(1, 2)
        lp = self.prototypes.log_probs(feats, cats)  # (M, P, Kmax)
        cost = -(lp + score.clamp_min(1e-6).log()[..., None])
        cost = torch.nan_to_num(cost, posinf=1e6).cpu().numpy()
        assigned = torch.as_tensor(assign_peaks(cost, self.sizes_t[cats].cpu().numpy(),
                                                (score >= k.peak_threshold).cpu().numpy()), device=heat.device)
        # fallback for identities without a peak: best cell of heat × p(identity)
        lp_map = self.prototypes.log_probs(embed.permute(0, 2, 3, 1), cats)  # (M, h, w, Kmax)
        smap = (heat[..., None] * lp_map.exp()).flatten(1, 2)  # (M, h·w, Kmax)
        fb_score, fb_idx = smap.max(1)  # (M, Kmax)
        fb_cell = torch.stack([fb_idx % w, fb_idx // w], -1).float()
        fb_off = offs.flatten(2).gather(2, fb_idx[:, None].expand(-1, 2, -1)).transpose(1, 2)
        has = assigned >= 0
        a = assigned.clamp_min(0)
        rows = torch.arange(m, device=heat.device)[:, None]
        uv = torch.where(has[..., None], cell[rows, a] + off[rows, a], fb_cell + fb_off)  # (M, Kmax, 2)
        kscore = torch.where(has, score[rows, a] * lp[rows, a, torch.arange(kmax, device=heat.device)].exp(),
                             fb_score)
        xy = cells_to_image(uv, rois, k.crop_size, k.heatmap_stride)
        peaks_xy = cells_to_image(cell + off, rois, k.crop_size, k.heatmap_stride)
        return {"xy": xy, "score": kscore.clamp(0, 1), "uv": uv, "peaks_xy": peaks_xy, "peaks_score": score,
                "peaks_lp": lp, "embed": embed}

    def links(self, embed: torch.Tensor, uv: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
        """CLPGM on the decoded keypoints → link probabilities (M, Kmax, Kmax)."""
        hm = embed.shape[-1]
        mask = torch.arange(uv.shape[1], device=uv.device)[None] < self.sizes_t[cats][:, None]
        out = self.clpgm(sample_embed(embed, uv), uv / hm - 0.5, mask, cats, sample=False)
        return out["logits"].sigmoid() * (mask[:, :, None] & mask[:, None, :])

    @torch.no_grad()
    def decode(self, outputs: dict[str, Any], meta: list[dict[str, Any]]) -> list[Prediction]:
        d = self.cfg.detector
        dets = detect(outputs["raw"], self.strides, self.head.anchors, score_threshold=d.score_threshold,
                      nms_iou=d.nms_iou, max_detections=d.max_detections)
        boxes = torch.cat([x[0] for x in dets])  # (M, 4) input pixels
        bidx = torch.cat([torch.full((len(x[0]),), i, device=boxes.device) for i, x in enumerate(dets)])
        return self.objects(outputs["images"], bidx, boxes, torch.cat([x[1] for x in dets]),
                            torch.cat([x[2] for x in dets]), meta)

    @torch.no_grad()
    def objects(self, images: torch.Tensor, bidx: torch.Tensor, boxes: torch.Tensor, scores: torch.Tensor,
                cats: torch.Tensor, meta: list[dict[str, Any]]) -> list[Prediction]:
        """Keypoints and links of given objects: boxes (M, 4) xyxy in input pixels of image bidx (M,),
        model category indices cats (M,) — detections, or ground-truth boxes for a box-oracle study."""
        k = self.cfg.cklm
        if len(boxes) == 0:
            return []
        rois, out = self._crops(images, bidx, boxes)
        loc = self.locate(out, rois, cats)
        xy, kscore = loc["xy"], loc["score"]
        if self.lis is not None:
            xy, kscore = self.lis(bidx, boxes, scores, rois, cats, loc, self.mean_dist, self.sizes_t)
            loc["uv"] = image_to_cells(xy, rois, k.crop_size, k.heatmap_stride)
        probs = self.links(loc["embed"], loc["uv"], cats)  # (M, Kmax, Kmax)
        iu, ju = torch.triu_indices(probs.shape[1], probs.shape[1], 1, device=probs.device)
        pair_p = probs[:, iu, ju]  # (M, L)
        scale = torch.as_tensor([meta[i]["scale"] for i in bidx.tolist()], device=boxes.device, dtype=torch.float32)
        xy = (xy + 0.5) / scale[:, None, None] - 0.5  # input → original image pixels
        bx = (boxes + 0.5) / scale[:, None] - 0.5
        kp = torch.cat([xy, kscore[..., None]], -1).double().cpu().numpy()
        bx = bx.double().cpu().numpy()
        pair_p, iu, ju = pair_p.cpu().numpy(), iu.cpu().numpy(), ju.cpu().numpy()
        preds = []
        thr = self.cfg.clpgm.output_threshold
        for i, (b, c, s) in enumerate(zip(bidx.tolist(), cats.tolist(), scores.tolist())):
            kc = self.sizes[c]
            sel = (pair_p[i] >= thr) & (ju < kc)
            links = np.stack([iu[sel], ju[sel], pair_p[i][sel]], 1).astype(np.float64)
            preds.append(Prediction(int(meta[b]["image_id"]), self.cat_ids[c], kp[i, :kc], float(s),
                                    np.array([bx[i, 0], bx[i, 1], bx[i, 2] - bx[i, 0], bx[i, 3] - bx[i, 1]]), links))
        return preds

    @classmethod
    def example_input(cls, cfg: KlpNetConfig) -> torch.Tensor:
        if not isinstance(cfg, KlpNetConfig):
            cfg = KlpNetConfig.model_validate(cfg)
        return torch.zeros(1, 3, cfg.input_size, cfg.input_size)
