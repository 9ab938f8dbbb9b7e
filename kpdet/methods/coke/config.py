"""CokeConfig: every hyper-parameter of CoKe (Bai et al.) with the paper's value as default."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kpdet.methods.base import MethodConfig
from kpdet.methods.config_parts import (IMAGENET_MEAN, IMAGENET_STD, RGB, ColourJitter, CropJitter, Degrees,
                                        Fraction, HueShift, InputSize, ScaleFactor, Strict, check_divisible)


class AugmentConfig(ColourJitter, CropJitter):  # pydantic lists the last base's fields first
    """Crop augmentation (the paper does not state one): scale/rotation jitter, flip, colour."""

    scale_factor: ScaleFactor = 0.25
    rotation_factor: Degrees = 15.0
    rotation_prob: Fraction = 0.5
    flip_prob: Fraction = 0.5
    brightness: Fraction = 0.2
    contrast: Fraction = 0.2
    saturation: Fraction = 0.2
    hue: HueShift = 0.02


class DecoderConfig(Strict):
    """``refine``: none (the paper: integer maximum of the response map), quarter or
    log_quadratic (sub-pixel steps of kpdet.codecs.heatmap, applied to exp((r − 1)/τ))."""

    refine: Literal["none", "quarter", "log_quadratic"] = "none"


class HourglassConfig(Strict):
    """Stacked hourglass Φ (``extractor: hourglass``). Default: Newell et al.'s 8 stacks of
    256 channels and 4 halvings, ≈25M parameters with D = 128 (the paper's SHG: 25M, Sec. 4.3)."""

    stacks: int = Field(8, ge=1)
    depth: int = Field(4, ge=1)  # halvings inside each hourglass
    channels: int = Field(256, ge=8)


class CokeConfig(MethodConfig):
    name: Literal["coke"] = "coke"
    # feature extractor Φ → 1×1 dimensionality reduction → L2 normalisation. "backbone": timm
    # backbone + upsampling neck ("add": ResNet + upsampling, "concat": Res-UNet decoder);
    # "hourglass": stacked hourglass (section `hourglass`; backbone* and neck* unused), whose
    # stem gives feature_stride 1, 2 or 4
    extractor: Literal["backbone", "hourglass"] = "backbone"
    backbone: str = "resnet50"
    backbone_weights: str | None = None  # local .safetensors / state dict; never downloaded
    neck: Literal["add", "concat"] = "add"
    neck_channels: int = Field(128, gt=0)
    feature_stride: int = Field(8, gt=0)
    feature_dim: int = Field(128, gt=0)  # D
    hourglass: HourglassConfig = Field(default_factory=HourglassConfig)
    input_size: InputSize = (256, 256)  # H, W of the object crop
    box_padding: float = Field(1.25, ge=1)
    image_mean: RGB = IMAGENET_MEAN
    image_std: RGB = IMAGENET_STD
    # loss (Eq. 6-8)
    temperature: float = Field(0.7, gt=0)  # τ
    objective: Literal["contrastive", "classification"] = "contrastive"  # Table 6 "Class" baseline
    negatives: Literal["category", "all"] = "category"  # which prototypes a keypoint is contrasted with
    clutter_loss: bool = True  # Eq. 7 (Table 7 "w/o clutter sampling loss")
    clutter_loss_weight: float = Field(1.0, ge=0)
    supervise_hidden: bool = False  # also learn from labelled-but-hidden (v=1) keypoints
    # keypoint bank (Eq. 4): cumulative moving average; "periodic": plain mean of the features
    # seen during the last `periodic_steps` steps, swapped in at the end of each period
    momentum: float = Field(0.9, ge=0, lt=1)  # α
    bank_update: Literal["cma", "periodic"] = "cma"
    periodic_steps: int = Field(500, gt=0)
    # clutter bank: groups × group_size features, FIFO by time tag; "image": the image's own
    # clutter only (Table 7 "image-specific clutter"); "none": keypoint bank only
    clutter: Literal["bank", "image", "none"] = "bank"
    clutter_groups: int = Field(1024, gt=0)
    clutter_group_size: int = Field(20, gt=0)
    # hard clutter: cells at least `clutter_min_distance` feature cells from every labelled
    # keypoint, sampled with weight exp(-(d - min)/near_scale) + uniform
    clutter_min_distance: float = Field(2.0, ge=0)
    clutter_near_scale: float = Field(2.0, gt=0)
    clutter_uniform: float = Field(0.05, ge=0)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)

    @model_validator(mode="after")
    def _check(self) -> "CokeConfig":
        if self.extractor == "hourglass":
            if self.feature_stride not in (1, 2, 4):
                raise ValueError(f"feature_stride must be 1, 2 or 4 with extractor 'hourglass' (its stem's "
                                 f"strides), got {self.feature_stride}")
            check_divisible(self.input_size, self.feature_stride * 2**self.hourglass.depth,
                            "feature_stride·2^hourglass.depth")
        return self
