"""Config pieces that several methods' configs share: bounded number types, augmentation
sections and input-size checks. Only pydantic is imported here, so configs load without torch.

A method's section inherits a part and sets its own (paper) defaults by re-declaring a field
with the part's type alias, which carries the bounds: ``hue: HueShift = 0.02``. A plain
``hue: float = 0.02`` would drop them; tests/methods/test_config_parts.py checks every
registered method against that.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0, le=1)]  # a probability or a jitter amplitude in [0, 1]
HueShift = Annotated[float, Field(ge=0, le=0.5)]  # fraction of a full hue turn
ScaleFactor = Annotated[float, Field(ge=0, lt=1)]  # s of a scale jitter within [1 − s, 1 + s]
Degrees = Annotated[float, Field(ge=0)]

RGB = tuple[float, float, float]
IMAGENET_MEAN: RGB = (0.485, 0.456, 0.406)
IMAGENET_STD: RGB = (0.229, 0.224, 0.225)


class Strict(BaseModel):
    """A config section; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ColourJitter(Strict):
    """Fields of :class:`kpdet.data.transforms.ColorJitter`: brightness, contrast and saturation
    factors drawn from [1 − a, 1 + a], a hue shift of up to ±hue of a full turn. Default: off."""

    brightness: Fraction = 0.0
    contrast: Fraction = 0.0
    saturation: Fraction = 0.0
    hue: HueShift = 0.0


class CropJitter(Strict):
    """Fields of :class:`kpdet.data.transforms.ScaleRotateJitter` (scale within
    [1 − scale_factor, 1 + scale_factor]; a rotation of σ = rotation_factor degrees with
    probability rotation_prob) and the probability of a horizontal flip. Default: off."""

    scale_factor: ScaleFactor = 0.0
    rotation_factor: Degrees = 0.0
    rotation_prob: Fraction = 0.0
    flip_prob: Fraction = 0.0


def _positive_sides(size: tuple[int, int]) -> tuple[int, int]:
    if min(size) <= 0:
        raise ValueError(f"input_size must be positive [H, W], got {list(size)}")
    return size


InputSize = Annotated[tuple[int, int], AfterValidator(_positive_sides)]  # (H, W) pixels


def check_divisible(input_size: int | tuple[int, int], unit: int, unit_name: str) -> None:
    """Raise ValueError unless every side of ``input_size`` is a multiple of ``unit`` (the
    network's total stride), named ``unit_name`` in the message."""
    sides = (input_size,) if isinstance(input_size, int) else input_size
    if any(s % unit for s in sides):
        shown = input_size if isinstance(input_size, int) else list(input_size)
        raise ValueError(f"input_size {shown} must be divisible by {unit_name} = {unit}")
