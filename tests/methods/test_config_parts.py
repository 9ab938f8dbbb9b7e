import pytest
from pydantic import BaseModel, ValidationError

from kpdet.methods import get_method, method_names
from kpdet.methods.config_parts import ColourJitter, CropJitter, InputSize, Strict, check_divisible

PARTS = (ColourJitter, CropJitter)


def _sections(model: type[BaseModel], seen: set | None = None):
    """``model`` and every config section nested in it."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _sections(field.annotation, seen)


@pytest.mark.parametrize("name", method_names())
def test_method_sections_keep_the_bounds_of_the_parts_they_inherit(name):
    for section in _sections(get_method(name).Config):
        for part in PARTS:
            if not issubclass(section, part):
                continue
            for key, shared in part.model_fields.items():
                own = section.model_fields[key]
                assert own.metadata == shared.metadata, (
                    f"{section.__qualname__}.{key} overrides {part.__name__}'s bounds {shared.metadata} with "
                    f"{own.metadata}: re-declare it with the part's type alias")


@pytest.mark.parametrize("name", method_names())
def test_method_sections_forbid_unknown_keys(name):
    for section in _sections(get_method(name).Config):
        assert section.model_config.get("extra") == "forbid", section


class _Aug(ColourJitter, CropJitter):
    hue: float = 0.3  # drops the bound on purpose: the check above must notice


def test_bound_check_notices_a_plain_override():
    assert ColourJitter.model_fields["hue"].metadata != _Aug.model_fields["hue"].metadata
    assert _Aug(hue=0.9).hue == 0.9


def test_parts_default_to_no_augmentation_and_bound_their_fields():
    assert set(ColourJitter().model_dump().values()) == {0.0}
    assert set(CropJitter().model_dump().values()) == {0.0}
    for bad in ({"hue": 0.6}, {"brightness": -0.1}, {"contrast": 1.5}):
        with pytest.raises(ValidationError):
            ColourJitter(**bad)
    for bad in ({"scale_factor": 1.0}, {"rotation_factor": -1}, {"rotation_prob": 2}, {"flip_prob": -0.5}):
        with pytest.raises(ValidationError):
            CropJitter(**bad)
    with pytest.raises(ValidationError, match="extra"):
        ColourJitter(brightnes=0.1)


class _Sized(Strict):
    input_size: InputSize = (64, 48)


def test_input_size_must_be_positive():
    assert _Sized(input_size=[32, 16]).input_size == (32, 16)
    with pytest.raises(ValidationError, match=r"input_size must be positive \[H, W\], got \[0, 16\]"):
        _Sized(input_size=[0, 16])


def test_check_divisible_names_the_unit():
    check_divisible((64, 48), 16, "stride")
    check_divisible(128, 64, "stride")
    with pytest.raises(ValueError, match=r"input_size \[64, 40\] must be divisible by stride = 16"):
        check_divisible((64, 40), 16, "stride")
    with pytest.raises(ValueError, match="input_size 100 must be divisible by the largest stride = 64"):
        check_divisible(100, 64, "the largest stride")
