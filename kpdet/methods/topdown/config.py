"""TopDownConfig: every hyper-parameter of SimpleBaseline (Xiao et al. 2018) with its value as default,
plus the CCM decoder, training strategies and post-processing (Zhang et al., IJCV 2022) as options."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kpdet.methods.base import MethodConfig
from kpdet.methods.config_parts import (IMAGENET_MEAN, IMAGENET_STD, RGB, ColourJitter, CropJitter, Degrees,
                                        Fraction, InputSize, ScaleFactor, Strict, check_divisible)


class AugmentConfig(ColourJitter, CropJitter):  # pydantic lists the last base's fields first
    """Training augmentation. SimpleBaseline: scale 0.35, rotation 45° (p 0.6), flip 0.5;
    half-body (p 0.3, > 8 keypoints, box ×1.5) from its HRNet successor; no colour jitter."""

    scale_factor: ScaleFactor = 0.35
    rotation_factor: Degrees = 45.0
    rotation_prob: Fraction = 0.6
    flip_prob: Fraction = 0.5
    half_body_prob: float = Field(0.3, ge=0, le=1)
    half_body_min_keypoints: int = Field(8, ge=0)
    half_body_padding: float = Field(1.5, gt=0)
    # {category_id: [[upper indices], [lower indices]]} (0-based); default: from keypoint names
    half_body_split: dict[int, tuple[list[int], list[int]]] = Field(default_factory=dict)


class DecoderConfig(Strict):
    """Test-time decoding, in the order of CCM Sec. 5: Gaussian filtering → flip test → argmax →
    refinement → pose NMS.

    ``refine``: quarter (SimpleBaseline's 0.25-px shift), none, log_quadratic (exact sub-pixel centre
    of a Gaussian), parabola (CCM Eq. 13), paraboloid (CCM Eq. 14–22) or dark (Zhang et al. 2020).
    ``flip_shift_px``: shift of the mirrored heatmap in heatmap cells; 0 is unbiased in kpdet's
    pixel-centre convention, 1.0 reproduces SimpleBaseline's code. ``flip_ssp_r``: CCM's sub-pixel
    shift (Eq. 25) by its ratio r ≥ 1 instead; it overrides ``flip_shift_px`` with the shift that
    leaves the same residual misalignment as the paper's 1/r px left in SimpleBaseline's convention
    (see :class:`kpdet.codecs.heatmap.FlipTest`). ``gaussian_filter``: blur each heatmap (kernel
    ``gaussian_kernel``, sigma by OpenCV's rule) before decoding, keeping its maximum.
    ``nms``: none, oks (greedy OKS-NMS) or soft (CCM's Soft-NMS fusion, Eq. 23–24), across the
    predictions of an image at ``nms_threshold``. ``score_threshold``: keypoints with a maxval above
    it enter the instance score (SimpleBaseline's in_vis_thre 0.2)."""

    flip_test: bool = True
    flip_shift_px: float = 0.0
    flip_ssp_r: float | None = Field(None, ge=1)
    gaussian_filter: bool = False
    gaussian_kernel: int = Field(11, ge=3)
    refine: Literal["quarter", "none", "log_quadratic", "parabola", "paraboloid", "dark"] = "quarter"
    nms: Literal["none", "oks", "soft"] = "none"
    nms_threshold: float = Field(0.9, gt=0, le=1)  # SimpleBaseline's oks_thre
    score_threshold: float = Field(0.2, ge=0)

    @field_validator("gaussian_kernel")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"gaussian_kernel must be odd, got {v}")
        return v


class HeadConfig(Strict):
    """Decoder on the encoder. ``deconv``: SimpleBaseline's deconvolutions (``deconv_channels``).
    ``ccm``: K cascaded Context Mixers of widths ``cm_channels`` (CCM Eq. 1–6); ``cm_upsample``
    says which of them double the resolution (default: all). ``aux_decoder``: a second cascade of
    the same widths on the encoder level ``aux_index`` (the penultimate stage), trained with weight
    ``aux_weight`` = λ (Eq. 9; the paper does not give λ: 1.0); its CMs up-sample only while their
    input is coarser than the heatmap. ``dilated_encoder``: the last stage dilated (output stride
    16, Table 2 "D") through timm's ``output_stride``."""

    type: Literal["deconv", "ccm"] = "deconv"
    cm_channels: list[int] = Field(default_factory=lambda: [256, 256, 256])
    cm_upsample: list[bool] | None = None
    dilations: tuple[int, ...] = (1, 2, 3, 4)
    se_reduction: int = Field(4, ge=1)
    aux_decoder: bool = False
    aux_index: int = -2
    aux_weight: float = Field(1.0, ge=0)
    dilated_encoder: bool = False


class HardNegativeConfig(Strict):
    """CCM Sec. 4.1: detections (COCO results JSON on the training images) with score ≥
    ``score_threshold`` that intersect no ground-truth box of their category become extra
    training crops with all-zero heatmaps that are supervised."""

    detections: str | None = None
    score_threshold: float = Field(0.5, ge=0, le=1)


class PseudoLabelConfig(Strict):
    """CCM Sec. 4.2: a teacher's predictions (COCO results JSON) on unlabelled images (a COCO
    JSON with images and categories) become labels: keypoints scored > ``keypoint_threshold``
    are labelled, the rest unlabelled; poses scored below ``pose_threshold`` are dropped."""

    images: str | None = None
    image_root: str | None = None
    predictions: str | None = None
    keypoint_threshold: float = Field(0.9, ge=0, le=1)
    pose_threshold: float = Field(0.0, ge=0)


class ExtraDatasetConfig(Strict):
    """CCM Sec. 4.3: a second training set with another keypoint set. ``keypoint_map`` maps a
    keypoint name of the model's category ``category_id`` to a keypoint name of the source
    category ``source_category_id``; keypoints not mapped stay unlabelled (no loss)."""

    annotations: str
    image_root: str | None = None
    source_category_id: int = 1
    category_id: int = 1
    keypoint_map: dict[str, str]


class StrategyConfig(Strict):
    hard_negatives: HardNegativeConfig = Field(default_factory=HardNegativeConfig)
    pseudo_labels: PseudoLabelConfig = Field(default_factory=PseudoLabelConfig)
    extra_datasets: list[ExtraDatasetConfig] = Field(default_factory=list)
    # fine-tune stage (Eq. 10, "→ Finetune"): start from a kpdet checkpoint's weights; tensors whose
    # shapes differ (another keypoint set's final layer) keep their fresh initialisation
    init_weights: str | None = None


class TopDownConfig(MethodConfig):
    name: Literal["topdown"] = "topdown"
    backbone: str = "resnet50"
    backbone_out_index: int = -1  # which timm feature level feeds the head (-1: deepest)
    backbone_weights: str | None = None  # local .safetensors / state-dict file; never downloaded
    backbone_kwargs: dict[str, Any] = Field(default_factory=dict)  # extra timm arguments
    input_size: InputSize = (256, 192)  # H, W
    heatmap_stride: int = 4
    deconv_channels: list[int] = Field(default_factory=lambda: [256, 256, 256])
    deconv_kernel: Literal[2, 3, 4] = 4
    box_padding: float = Field(1.25, ge=1)
    sigma: float = Field(2.0, gt=0)  # Gaussian sigma in heatmap cells (2 at 64×48)
    use_target_weight: bool = True  # visibility weights: unlabelled / off-map keypoints give no loss
    # the mean squared error per heatmap pixel is ~1e-3; ×1000 keeps logged values and
    # gradients (vs. Adam's eps) in a comfortable range; 1.0 = SimpleBaseline's plain MSE (×2)
    loss_weight: float = Field(1000.0, gt=0)
    image_mean: RGB = IMAGENET_MEAN
    image_std: RGB = IMAGENET_STD
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)
    head: HeadConfig = Field(default_factory=HeadConfig)
    strategies: StrategyConfig = Field(default_factory=StrategyConfig)

    @model_validator(mode="after")
    def _divisible(self) -> "TopDownConfig":
        check_divisible(self.input_size, self.heatmap_stride, "heatmap_stride")
        return self

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride
