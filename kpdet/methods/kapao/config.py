"""KapaoConfig: KAPAO's hyper-parameters, defaults from the paper / the official repo
(data/hyps/hyp.kp.yaml for training, val.py for inference)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kpdet.methods.base import MethodConfig
from kpdet.methods.config_parts import Fraction, HueShift, ScaleFactor, Strict, check_divisible

# YOLOv5 P6 anchors (w, h) in input pixels at 1280 px, one row of three per stride 8/16/32/64.
P6_ANCHORS = (
    ((19, 27), (44, 40), (38, 94)),
    ((96, 68), (86, 152), (180, 137)),
    ((140, 301), (303, 264), (238, 542)),
    ((436, 615), (739, 380), (925, 792)),
)


class AugmentConfig(Strict):
    """Whole-image augmentation (hyp.kp.yaml): HSV gains, translate ± fraction of the side,
    scale gain (zoom in [1 − scale, 1 + scale]), left/right flip, mosaic probability."""

    hsv_h: HueShift = 0.015
    hsv_s: Fraction = 0.7
    hsv_v: Fraction = 0.4
    translate: float = Field(0.2, ge=0, le=0.5)
    scale: ScaleFactor = 0.8
    flip_prob: Fraction = 0.5
    mosaic_prob: Fraction = 1.0
    min_box_side: float = Field(2.0, ge=0)  # px: smaller pose boxes after augmentation are dropped


class LossConfig(Strict):
    """Loss gains λ_box, λ_obj, λ_cls, λ_kps, grid weights w_s (P3…P6), anchor ratio tolerance."""

    box: float = 0.05
    obj: float = 1.0
    cls: float = 0.5
    kps: float = 0.05
    grid_weights: tuple[float, float, float, float] = (4.0, 1.0, 0.25, 0.06)
    anchor_t: float = Field(4.0, gt=1)
    neighbour_cells: bool = True  # YOLOv5's two extra cells nearest the centre
    batch_scale: bool = True  # total × batch size (KAPAO Sec. 3.2)


class InferenceConfig(Strict):
    """Thresholds of KAPAO Sec. 3.3 (official val.py defaults). ``fusion_distance`` τfd is a
    fraction of the longer input side (50 px at 1280). ``tta``: scales 0.8/1/1.2 + flip of
    the unscaled image. ``rect``: letterbox to the longer side only (rectangular inference)."""

    conf_pose: float = Field(0.01, ge=0, le=1)  # τcp
    conf_kp: float = Field(0.5, ge=0, le=1)  # τck
    iou_pose: float = Field(0.45, ge=0, le=1)  # τbp
    iou_kp: float = Field(0.45, ge=0, le=1)  # τbk
    fusion: bool = True
    fusion_conf: float = Field(0.2, ge=0, le=1)  # τfc
    fusion_distance: float = Field(50 / 1280, ge=0)  # τfd / longer input side
    max_det: int = Field(300, gt=0)
    tta: bool = False
    tta_scales: tuple[float, ...] = (0.8, 1.0, 1.2)
    rect: bool = True


class KapaoConfig(MethodConfig):
    name: Literal["kapao"] = "kapao"
    width_multiple: float = Field(0.50, gt=0)  # S 0.50, M 0.75, L 1.0
    depth_multiple: float = Field(0.33, gt=0)  # S 0.33, M 0.67, L 1.0
    input_size: int = 1280  # longer side; square training canvas
    anchors: tuple[tuple[tuple[float, float], ...], ...] = P6_ANCHORS
    anchor_input_size: int = 1280  # anchors are in pixels of this input size and scale with input_size
    kp_bbox: float = Field(0.05, gt=0, lt=1)  # b_s / longer input side (Fig. 5)
    kp_min_visibility: int = Field(1, ge=1, le=2)  # keypoint objects for v ≥ this
    image_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    image_std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    inference: InferenceConfig = Field(default_factory=InferenceConfig)

    @model_validator(mode="after")
    def _check(self) -> "KapaoConfig":
        check_divisible(self.input_size, 64, "the largest stride")
        if len(self.anchors) != 4 or len({len(a) for a in self.anchors}) != 1:
            raise ValueError("anchors: expected 4 rows (strides 8, 16, 32, 64) with the same number of (w, h) each")
        return self

    def anchor_pixels(self) -> list[list[tuple[float, float]]]:
        r = self.input_size / self.anchor_input_size
        return [[(w * r, h * r) for w, h in row] for row in self.anchors]
