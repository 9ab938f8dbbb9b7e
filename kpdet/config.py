"""The typed run config: YAML <-> pydantic, `--set a.b=c` overrides, readable errors.

Layout (see the training contract)::

    method: {name: ..., <fields of get_method(name).Config>}
    data:   {train, val, train_images, val_images, val_boxes}
    train:  {epochs, batch_size, optimizer: {...}, schedule: {...}, ema: {...}, ...}

Unknown keys are errors that list the valid keys at that level; a wrong type names the key
path and the expected type. The ``method`` section is validated by the method's own Config.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator
from pydantic.fields import FieldInfo

from kpdet.errors import ConfigError
from kpdet.methods.base import MethodConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    train: Optional[str] = None  # COCO keypoints JSON
    val: Optional[str] = None
    train_images: Optional[str] = None  # image folder; default: the JSON's folder
    val_images: Optional[str] = None
    val_boxes: Optional[str] = None  # detections JSON for test-time boxes; None: ground-truth boxes


class OptimizerConfig(_Section):
    name: Literal["adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(1.0e-3, gt=0)
    weight_decay: float = Field(1.0e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)  # SGD momentum; Adam's beta1
    nesterov: bool = True  # SGD only
    beta2: float = Field(0.999, gt=0, lt=1)  # Adam/AdamW only


class ScheduleConfig(_Section):
    name: Literal["constant", "step", "cosine"] = "cosine"
    warmup_epochs: float = Field(1.0, ge=0)  # linear warm-up from warmup_start_ratio·lr
    warmup_start_ratio: float = Field(0.001, ge=0, le=1)
    milestones: list[float] = []  # epochs (fractions allowed) where `step` multiplies lr by gamma
    gamma: float = Field(0.1, gt=0)
    min_lr_ratio: float = Field(0.01, ge=0, le=1)  # cosine floor, as a fraction of lr
    fit_budget: bool = True  # with train.max_minutes: the schedule ends when the time budget does


class EmaConfig(_Section):
    enabled: bool = False
    decay: float = Field(0.9998, gt=0, lt=1)


class TrainConfig(_Section):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(32, ge=1)  # per process
    num_workers: int = Field(2, ge=0)
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    grad_accum: int = Field(1, ge=1)
    clip_grad: Optional[float] = Field(None, gt=0)  # max global L2 norm of the gradients
    ema: EmaConfig = EmaConfig()
    amp: Literal["no", "bf16", "fp16"] = "no"  # mixed precision on GPU; ignored (with a warning) on CPU
    channels_last: bool = False  # NHWC weights: oneDNN/cuDNN convolutions run faster (CPU: ~1.2–1.8×)
    eval_every: int = Field(1, ge=0)  # epochs; 0: evaluate only at the end
    best_metric: str = "AP"  # key of the evaluate() dict
    best_mode: Literal["max", "min"] = "max"
    eval_metric: Literal["oks", "pck", "pckh"] = "oks"
    pck_alpha: float = Field(0.1, gt=0)
    seed: int = 0
    max_minutes: Optional[float] = Field(None, gt=0)  # time budget; the last epoch is cut short, then evaluated
    max_bad_fraction: float = Field(0.01, ge=0, le=1)  # unreadable training images tolerated
    checkpoint_every_steps: Optional[int] = Field(None, ge=1)  # also checkpointed at every epoch end
    log_every: int = Field(20, ge=1)  # optimizer steps between logged training losses

    @field_validator("amp", mode="before")
    @classmethod
    def _yaml_no(cls, value: Any) -> Any:
        return "no" if value is False else value  # YAML 1.1 reads a bare `no` as false


class Config(_Section):
    method: SerializeAsAny[MethodConfig]
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()


_PATH_FIELDS = ("train", "val", "train_images", "val_images", "val_boxes")


def load_config(path: str | os.PathLike | None, overrides: list[str] | tuple[str, ...] = (),
                *, resolve_paths: bool = True) -> Config:
    """Read a YAML config (or start from ``{}`` when path is None), apply overrides, validate.

    Relative data paths are resolved against the current directory (``resolve_paths``), so the
    config saved in a run directory stays valid from anywhere.
    """
    source = "<overrides>" if path is None else str(path)
    raw: Any = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{source}: config file not found")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{source}: not valid YAML: {e}") from None
        raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections (method, data, train), got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    cfg = config_from_dict(raw, source)
    if resolve_paths:
        for name in _PATH_FIELDS:
            value = getattr(cfg.data, name)
            if value is not None:
                setattr(cfg.data, name, str(Path(value).expanduser().resolve()))
    return cfg


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``a.b.c=value`` to a nested dict; the value is parsed as a YAML scalar or list."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set expects KEY=VALUE with a dotted key (e.g. train.epochs=5), got '{item}'")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: value '{text}' is not a valid YAML scalar or list: {e}") from None
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: '{'.'.join(parts[:i + 1])}' is a value ({child!r}), not a section")
        node = child
    node[parts[-1]] = value


def config_from_dict(raw: dict[str, Any], source: str = "<config>") -> Config:
    """Validate a plain dict: the method section by its own Config, the rest by :class:`Config`."""
    from kpdet.methods import get_method

    method_raw = raw.get("method")
    if not isinstance(method_raw, dict):
        got = "nothing" if method_raw is None else type(method_raw).__name__
        raise ConfigError(f"{source}: 'method' must be a section with at least 'name', got {got}")
    if not isinstance(method_raw.get("name"), str):
        raise ConfigError(f"{source}: missing or non-string key 'method.name'")
    method_cls = get_method(method_raw["name"])
    try:
        method_cfg = method_cls.Config.model_validate(method_raw)
    except ValidationError as e:
        raise ConfigError(_describe(e, method_cls.Config, ("method",), source)) from None
    try:
        return Config.model_validate({**raw, "method": method_cfg})
    except ValidationError as e:
        raise ConfigError(_describe(e, Config, (), source)) from None


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, default_flow_style=False)


def config_to_dict(cfg: Config) -> dict[str, Any]:
    return cfg.model_dump(mode="json")


# -- error messages ---------------------------------------------------------------------------

def _describe(exc: ValidationError, model: type[BaseModel], prefix: tuple, source: str) -> str:
    lines = [_describe_one(err, model, prefix) for err in exc.errors()]
    head = f"{source}: invalid config" if len(lines) > 1 else f"{source}"
    return head + (":\n  " + "\n  ".join(lines) if len(lines) > 1 else ": " + lines[0])


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_VALUE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "value_error",
                 "assertion_error", "too_short", "too_long"}


def _describe_one(err: dict[str, Any], model: type[BaseModel], prefix: tuple) -> str:
    loc = tuple(part for part in err["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    full = _path(prefix + loc)
    if err["type"] == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        valid = sorted(parent.model_fields) if parent is not None else []
        where = _path(prefix + loc[:-1]) or "the top level"
        hint = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"unknown key '{full}'{did_you_mean}; valid keys at {where}: {', '.join(valid)}"
    if err["type"] == "missing":
        return f"missing required key '{full}'"
    if err["type"] in _VALUE_ERRORS:
        return f"'{full}' = {err.get('input')!r}: {err['msg']}"
    field = _field_at(model, loc)
    expected = _type_name(field.annotation) if field is not None else "?"
    return f"'{full}' expected {expected}, got {err.get('input')!r}: {err['msg']}"


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete alternatives inside Optional/Union/SerializeAsAny/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _unwrap(arg)]
    return [annotation]


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        subs = [a for a in _unwrap(current.model_fields[part].annotation)
                if isinstance(a, type) and issubclass(a, BaseModel)]
        current = subs[0] if subs else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_at(model: type[BaseModel], loc: tuple) -> FieldInfo | None:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = _model_at(model, tuple(names[:-1]))
    return None if parent is None else parent.model_fields.get(names[-1])


def _type_name(annotation: Any) -> str:
    alternatives = _unwrap(annotation)
    names = []
    for a in alternatives:
        origin = typing.get_origin(a)
        if a is type(None):
            names.append("null")
        elif origin is Literal:
            names.append("one of " + ", ".join(repr(v) for v in typing.get_args(a)))
        elif origin in (list, tuple):
            args = typing.get_args(a)
            names.append(f"a list of {_type_name(args[0])}" if args else "a list")
        elif origin is dict:
            names.append("a mapping")
        elif isinstance(a, type) and issubclass(a, BaseModel):
            names.append("a section (mapping)")
        elif isinstance(a, type):
            names.append({"int": "an integer", "float": "a number", "str": "a string",
                          "bool": "true/false"}.get(a.__name__, a.__name__))
        else:
            names.append(str(a))
    return " or ".join(names)
