"""CokeConfig: every hyper-parameter of CoKe (Bai et al.) with the paper's value as default."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kpdet.methods.base import MethodConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AugmentConfig(_Strict):
    """Crop augmentation (the paper does not state one): scale/rotation jitter, flip, colour."""

    scale_factor: float = Field(0.25, ge=0, lt=1)
    rotation_factor: float = Field(15.0, ge=0)
    rotation_prob: float = Field(0.5, ge=0, le=1)
    flip_prob: float = Field(0.5, ge=0, le=1)
    brightness: float = Field(0.2, ge=0, le=1)
    contrast: float = Field(0.2, ge=0, le=1)
    saturation: float = Field(0.2, ge=0, le=1)
    hue: float = Field(0.02, ge=0, le=0.5)


class DecoderConfig(_Strict):
    """``refine``: none (the paper: integer maximum of the response map), quarter or
    log_quadratic (sub-pixel steps of kpdet.codecs.heatmap, applied to exp((r − 1)/τ))."""

    refine: Literal["none", "quarter", "log_quadratic"] = "none"


class CokeConfig(MethodConfig):
    name: Literal["coke"] = "coke"
    # feature extractor Φ: timm backbone + upsampling neck ("add": ResNet + upsampling,
    # "concat": Res-UNet decoder) → 1×1 dimensionality reduction → L2 normalisation
    backbone: str = "resnet50"
    backbone_weights: str | None = None  # local .safetensors / state dict; never downloaded
    neck: Literal["add", "concat"] = "add"
    neck_channels: int = Field(128, gt=0)
    feature_stride: int = Field(8, gt=0)
    feature_dim: int = Field(128, gt=0)  # D
    input_size: tuple[int, int] = (256, 256)  # H, W of the object crop
    box_padding: float = Field(1.25, ge=1)
    image_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    image_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
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

    @field_validator("input_size")
    @classmethod
    def _positive(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) <= 0:
            raise ValueError(f"input_size must be positive [H, W], got {list(v)}")
        return v
