"""KlpNetConfig: every hyper-parameter KLPNet names, the paper's value as default where it gives one.

Decisions the paper leaves open are in /work/shared/method-notes.md ("klpnet") and noted here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kpdet.methods.base import MethodConfig
from kpdet.methods.config_parts import IMAGENET_MEAN, IMAGENET_STD, RGB, Fraction, Strict


class DetectorConfig(Strict):
    """DPAD (§3.1): backbone levels C3…C7 (+ ``extra_levels`` by stride-2 convs; paper: C8, C9),
    FPN + bottom-up path aggregation, a dense anchor-based head (YOLO-style box coding), CIoU."""

    backbone: str = "resnext101_32x8d"
    backbone_weights: str | None = None
    backbone_levels: list[int] = Field(default_factory=lambda: [2, 3, 4])  # timm feature indices (strides 8, 16, 32)
    extra_levels: int = Field(2, ge=0)
    channels: int = Field(256, gt=0)
    # anchors (w, h) in units of the level's stride, shared by all levels
    anchors: list[tuple[float, float]] = Field(default_factory=lambda: [(2.0, 2.0), (3.0, 1.5), (1.5, 3.0)])
    anchor_t: float = Field(4.0, gt=1)  # a box is assigned to anchors with max(w/a, a/w) < anchor_t
    box_weight: float = Field(0.05, ge=0)
    obj_weight: float = Field(1.0, ge=0)
    cls_weight: float = Field(0.5, ge=0)
    score_threshold: float = Field(0.05, ge=0, le=1)
    nms_iou: float = Field(0.5, gt=0, le=1)
    max_detections: int = Field(20, ge=1)


class CklmConfig(Strict):
    """CKLM (§3.2): S stages of a small encoder–decoder on each object's crop, each predicting one
    category-implicit heatmap + x/y offsets (Eq. 1), coarse-to-fine Gaussian kernels, cross-stage
    aggregation with 1×1 transmission layers (Eq. 2–3)."""

    stages: int = Field(3, ge=1, le=5)
    kernel_sizes: list[int] = Field(default_factory=lambda: [7, 5, 3])  # per stage; the last repeats
    crop_size: int = Field(64, ge=16)
    crop_padding: float = Field(1.2, ge=1)
    heatmap_stride: int = Field(2, ge=1)
    widths: list[int] = Field(default_factory=lambda: [32, 64, 96])  # encoder widths, finest first
    cross_stage: bool = True  # Eq. 2–3; False = stages only chained through their heatmaps ("backbone only")
    heatmap_weight: float = Field(1.0, ge=0)  # Θ in Eq. 1
    offset_weight: float = Field(1.0, ge=0)  # Υ in Eq. 1
    offset_radius: float = Field(1.5, gt=0)  # heatmap cells around a keypoint that learn offsets
    box_jitter: float = Field(0.1, ge=0)  # training crops: GT boxes jittered to look like detections
    instances_per_image: int = Field(4, ge=1)
    # keypoint identity (decision): per-category canonical prototypes, cosine softmax, Hungarian
    embed_dim: int = Field(32, gt=0)
    temperature: float = Field(0.1, gt=0)
    identity_weight: float = Field(1.0, ge=0)
    peak_threshold: float = Field(0.1, ge=0, le=1)
    extra_peaks: int = Field(4, ge=0)


class ClpgmConfig(Strict):
    """CLPGM (§3.3): kNN graph + self loops over an object's keypoints, GCN encoder tanh(A X W)
    (two hidden layers + μ, log σ layers: "the first four layers"), variational latent,
    category-conditioned inner-product decoder (Eq. 7); loss = reconstruction + KL +
    category consistency (Eq. 6, the piecewise L_link)."""

    knn: int = Field(3, ge=1)
    hidden: int = Field(64, gt=0)
    latent: int = Field(16, gt=0)
    kl_weight: float = Field(1.0, ge=0)
    category_weight: float = Field(1.0, ge=0)
    position_noise: float = Field(0.02, ge=0)  # training node jitter, fraction of the crop
    link_threshold: float = Field(0.5, gt=0, lt=1)
    output_threshold: float = Field(0.05, ge=0, lt=1)  # links below it are left out of results


class LisConfig(Strict):
    """Location Instability Strategy (§3.3.4, Fig. 5) for overlapping objects of one category."""

    enabled: bool = True
    min_box_score: float = Field(0.3, ge=0, le=1)  # only confident detections take part
    overlap_iou: float = Field(0.05, ge=0, le=1)
    fixed_score: float = Field(0.5, ge=0, le=1)  # keypoints this confident outside the overlap are "fixed"
    candidate_score: float = Field(0.1, ge=0, le=1)  # peaks in the overlap that take part
    min_identity_prob: float = Field(0.1, ge=0, le=1)  # below it a debatable peak is an outlier
    distance_weight: float = Field(2.0, ge=0)
    momentum: float = Field(0.99, ge=0, lt=1)  # running mean of normalised keypoint distances


class KlpNetConfig(MethodConfig):
    name: Literal["klpnet"] = "klpnet"
    input_size: int = Field(512, ge=32)  # square letterboxed input
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    cklm: CklmConfig = Field(default_factory=CklmConfig)
    clpgm: ClpgmConfig = Field(default_factory=ClpgmConfig)
    lis: LisConfig = Field(default_factory=LisConfig)
    alpha: float = Field(1.0, ge=0)  # Eq. 8, weight of L_kd
    beta: float = Field(1.0, ge=0)  # Eq. 8, weight of L_link
    max_objects: int = Field(20, ge=1)
    flip_prob: Fraction = 0.5
    image_mean: RGB = IMAGENET_MEAN
    image_std: RGB = IMAGENET_STD

    @model_validator(mode="after")
    def _check(self) -> "KlpNetConfig":
        if self.cklm.crop_size % (self.cklm.heatmap_stride * 2 ** (len(self.cklm.widths) - 1)):
            raise ValueError(f"cklm.crop_size {self.cklm.crop_size} must be divisible by heatmap_stride × "
                             f"2^(len(widths) − 1)")
        if self.cklm.heatmap_stride * 2 ** (len(self.cklm.widths) - 1) > self.cklm.crop_size:
            raise ValueError("cklm.crop_size too small for its encoder depth")
        return self

    def kernel(self, stage: int) -> int:
        k = self.cklm.kernel_sizes
        return k[min(stage, len(k) - 1)]
