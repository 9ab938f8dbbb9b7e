"""Checkpoints: atomic writes, safe loads (weights_only) and compatibility checks.

A checkpoint is a dict of tensors and plain containers only, so that it loads with
``torch.load(..., weights_only=True)``::

    format, version, method, categories (COCO category dicts), config (plain dict),
    model, ema | None, optimizer | None, scheduler | None, scaler | None,
    rng (one entry per process), step, epoch, batch (batches of `epoch` already consumed per process),
    best {metric, value, epoch, step} | None, metrics (last evaluation) | None
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from kpdet.errors import ConfigError, KpdetError
from kpdet.fileio import atomic_open
from kpdet.schema import KeypointSchema

FORMAT = "kpdet-checkpoint"
VERSION = 1


class CheckpointError(KpdetError):
    """A checkpoint that is missing, corrupt or does not fit the model."""


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any],
                    save: Callable[[Any, Any], None] = torch.save) -> None:
    """Write to a temporary file and rename it, so a kill at any moment keeps the previous file."""
    with atomic_open(path, "wb") as f:
        save({"format": FORMAT, "version": VERSION, **payload}, f)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated/foreign files
        raise CheckpointError(f"{path}: not a readable kpdet checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a kpdet checkpoint (no '{FORMAT}' marker)")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt.get('version')}, this kpdet reads {VERSION}")
    return ckpt


def schemas_to_categories(schemas: dict[int, KeypointSchema]) -> list[dict[str, Any]]:
    return [s.to_category(cid) for cid, s in sorted(schemas.items())]


def categories_to_schemas(categories: list[dict[str, Any]]) -> dict[int, KeypointSchema]:
    return {int(c["id"]): KeypointSchema.from_category(c) for c in categories}


def check_compatible(ckpt: dict[str, Any], method_name: str, schemas: dict[int, KeypointSchema] | None,
                     source: str) -> None:
    """A checkpoint of another method, or built for other keypoint sets, is a clear error."""
    if ckpt["method"] != method_name:
        raise ConfigError(f"{source} was written by method '{ckpt['method']}', the config asks for "
                          f"'{method_name}'")
    if schemas is None:
        return
    theirs = {c: s.num_keypoints for c, s in categories_to_schemas(ckpt["categories"]).items()}
    mine = {c: s.num_keypoints for c, s in schemas.items()}
    if theirs != mine:
        raise ConfigError(f"{source} was trained for categories/keypoint counts {theirs}, the data has {mine}")


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    own = model.state_dict()
    shape_errors = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                    for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if shape_errors or missing or unexpected:
        parts = []
        if shape_errors:
            parts.append("shape mismatch: " + "; ".join(shape_errors[:5]))
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        raise CheckpointError(f"{source}: weights do not fit this model: " + "; ".join(parts))
    model.load_state_dict(state_dict, strict=True)


def inference_weights(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights evaluation uses: the EMA when the run kept one."""
    ema = ckpt.get("ema")
    return ema["module"] if ema else ckpt["model"]
