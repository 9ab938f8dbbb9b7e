"""ClusterNetConfig: every hyper-parameter of the cluster-wise learning network with the paper's value."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kpdet.methods.base import MethodConfig
from kpdet.methods.config_parts import (IMAGENET_MEAN, IMAGENET_STD, RGB, ColourJitter, Fraction, InputSize, Strict,
                                        check_divisible)


class AugmentConfig(ColourJitter):
    """Whole-image augmentation (the paper: random flip, scaling, cropping, colour).
    scale: ×uniform(scale_min, scale_max); rotation: uniform ±rotation degrees; translate: shift
    of the centre by up to that fraction of the input size (the cropping)."""

    scale_min: float = Field(0.75, gt=0)
    scale_max: float = Field(1.25, gt=0)
    rotation: float = Field(30.0, ge=0)
    translate: float = Field(0.2, ge=0, le=1)
    flip_prob: Fraction = 0.5
    brightness: Fraction = 0.2
    contrast: Fraction = 0.2
    saturation: Fraction = 0.2


class DecoderConfig(Strict):
    """Inference on the last stack's sparse branch (one cluster per keypoint).

    top-K peaks per map with K = max_people · c_i (paper: 30 · c_i); a peak joins a person when
    its tag lies within ``tag_threshold`` of the person's mean tag (Hungarian matching,
    associative embedding); ``detection_threshold`` on the peak value; ``refine``: sub-pixel
    step of the shared heatmap decoder; ``fill_missing``: a person's undetected keypoints are
    read at the map location best matching its tag (PoseAE's refinement); ``min_instances``:
    that many best groups are kept per image even below the detection threshold (their low
    scores do not hurt AP)."""

    max_people: int = Field(30, ge=1)
    detection_threshold: float = Field(0.1, ge=0)
    tag_threshold: float = Field(1.0, gt=0)
    nms_kernel: int = Field(3, ge=1)
    refine: Literal["quarter", "none", "log_quadratic"] = "quarter"
    fill_missing: bool = True
    flip_test: bool = True
    test_scales: list[float] = Field(default_factory=lambda: [1.0])
    min_instances: int = Field(1, ge=0)


class ClusterNetConfig(MethodConfig):
    name: Literal["clusternet"] = "clusternet"
    input_size: InputSize = (512, 512)  # H, W; output 128×128 (stride 4)
    stem_stride: Literal[1, 2, 4] = 4
    channels: int = Field(256, ge=8)
    hourglass_depth: int = Field(4, ge=1)
    # clusters per stack: dense (1, 1, 1, 3), sparse (5, 5, 5, 17) = the paper's "Cluster-1";
    # dense_clusters null = a single (sparse) branch: plain associative embedding when every
    # sparse entry is K.
    num_stacks: int = Field(4, ge=1)
    dense_clusters: list[int] | None = Field(default_factory=lambda: [1, 1, 1, 3])
    sparse_clusters: list[int] = Field(default_factory=lambda: [5, 5, 5, 17])
    # explicit groups {n: [[keypoint indices], …]} overriding the contiguous split into n clusters
    cluster_groups: dict[int, list[list[int]]] = Field(default_factory=dict)
    in_branch: bool = True  # tag features → detection features (Fig. 4a)
    cross_branch: bool = True  # sparse → dense grouped 1×1 conv, summed (Fig. 4b)
    tag_dim: int = Field(1, ge=1)
    sigma: float = Field(2.0, gt=0)  # Gaussian sigma in heatmap cells
    lambda_det: float = Field(1.0, ge=0)  # λ_d, Eq. 8
    lambda_emb: float = Field(1e-3, ge=0)  # λ_e, Eq. 8
    push_margin: float = Field(4.0, gt=0)  # Δ, Eq. 6
    offset_delta: float = Field(0.03, ge=0)  # δ, Eq. 4
    # multiplies every term: the per-pixel MSE is ~1e-3, this keeps logged values readable
    loss_scale: float = Field(1.0, gt=0)
    max_instances: int = Field(30, ge=1)  # people per image kept for the tag loss
    image_mean: RGB = IMAGENET_MEAN
    image_std: RGB = IMAGENET_STD
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)

    @model_validator(mode="after")
    def _check(self) -> "ClusterNetConfig":
        check_divisible(self.input_size, self.stem_stride * 2**self.hourglass_depth,
                        "stem_stride·2^hourglass_depth")
        for name in ("dense_clusters", "sparse_clusters"):
            v = getattr(self, name)
            if v is not None and len(v) != self.num_stacks:
                raise ValueError(f"{name} has {len(v)} entries, expected one per stack ({self.num_stacks})")
        if self.augment.scale_min > self.augment.scale_max:
            raise ValueError("augment.scale_min must not exceed augment.scale_max")
        return self

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return self.input_size[0] // self.stem_stride, self.input_size[1] // self.stem_stride
