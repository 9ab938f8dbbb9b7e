"""TopDownConfig: every hyper-parameter of SimpleBaseline (Xiao et al. 2018) with its value as default."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kpdet.methods.base import MethodConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AugmentConfig(_Strict):
    """Training augmentation. SimpleBaseline: scale 0.35, rotation 45° (p 0.6), flip 0.5;
    half-body (p 0.3, > 8 keypoints, box ×1.5) from its HRNet successor; no colour jitter."""

    scale_factor: float = Field(0.35, ge=0, lt=1)
    rotation_factor: float = Field(45.0, ge=0)
    rotation_prob: float = Field(0.6, ge=0, le=1)
    flip_prob: float = Field(0.5, ge=0, le=1)
    half_body_prob: float = Field(0.3, ge=0, le=1)
    half_body_min_keypoints: int = Field(8, ge=0)
    half_body_padding: float = Field(1.5, gt=0)
    # {category_id: [[upper indices], [lower indices]]} (0-based); default: from keypoint names
    half_body_split: dict[int, tuple[list[int], list[int]]] = Field(default_factory=dict)
    brightness: float = Field(0.0, ge=0, le=1)
    contrast: float = Field(0.0, ge=0, le=1)
    saturation: float = Field(0.0, ge=0, le=1)
    hue: float = Field(0.0, ge=0, le=0.5)


class DecoderConfig(_Strict):
    """Test-time decoding. ``refine``: quarter (SimpleBaseline's 0.25-px shift), none, or
    log_quadratic (exact sub-pixel centre of a Gaussian). ``flip_shift_px``: shift of the
    mirrored heatmap in heatmap cells; 0 is unbiased in kpdet's pixel-centre convention,
    1.0 reproduces SimpleBaseline's code (which needs it for its own convention).
    ``score_threshold``: keypoints with a maxval above it enter the instance score
    (SimpleBaseline's in_vis_thre 0.2)."""

    flip_test: bool = True
    flip_shift_px: float = 0.0
    refine: Literal["quarter", "none", "log_quadratic"] = "quarter"
    score_threshold: float = Field(0.2, ge=0)


class TopDownConfig(MethodConfig):
    name: Literal["topdown"] = "topdown"
    backbone: str = "resnet50"
    backbone_out_index: int = -1  # which timm feature level feeds the head (-1: deepest)
    backbone_weights: str | None = None  # local .safetensors / state-dict file; never downloaded
    input_size: tuple[int, int] = (256, 192)  # H, W
    heatmap_stride: int = 4
    deconv_channels: list[int] = Field(default_factory=lambda: [256, 256, 256])
    deconv_kernel: Literal[2, 3, 4] = 4
    box_padding: float = Field(1.25, ge=1)
    sigma: float = Field(2.0, gt=0)  # Gaussian sigma in heatmap cells (2 at 64×48)
    use_target_weight: bool = True  # visibility weights: unlabelled / off-map keypoints give no loss
    # the mean squared error per heatmap pixel is ~1e-3; ×1000 keeps logged values and
    # gradients (vs. Adam's eps) in a comfortable range; 1.0 = SimpleBaseline's plain MSE (×2)
    loss_weight: float = Field(1000.0, gt=0)
    image_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    image_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)

    @field_validator("input_size")
    @classmethod
    def _positive(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) <= 0:
            raise ValueError(f"input_size must be positive [H, W], got {list(v)}")
        return v

    @model_validator(mode="after")
    def _divisible(self) -> "TopDownConfig":
        h, w = self.input_size
        if h % self.heatmap_stride or w % self.heatmap_stride:
            raise ValueError(f"input_size {list(self.input_size)} must be divisible by heatmap_stride "
                             f"{self.heatmap_stride}")
        return self

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride
