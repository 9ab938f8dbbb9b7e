"""Rebuild a trained method from a run directory or a checkpoint file, for test, predict and the API.

The config comes from the run's ``config.yaml`` (or, for a bare checkpoint file, the config
stored inside it); the keypoint schemas come from the checkpoint, so a model is rebuilt exactly
as it was trained whatever data it is later applied to. Weights are loaded with
``weights_only=True`` and the EMA copy is preferred when the run kept one.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kpdet.config import Config, apply_override, config_from_dict, load_config
from kpdet.engine import checkpoint as ck
from kpdet.engine.rundir import BEST, CONFIG, LAST
from kpdet.errors import ConfigError


@dataclass
class TrainedMethod:
    cfg: Config
    method: Any  # kpdet.methods.base.Method in eval mode, on the CPU
    checkpoint: Path
    step: int


def checkpoint_path(run: str | os.PathLike, which: Literal["best", "last"] = "best") -> Path:
    """The checkpoint file of a run directory (best.pt, falling back to last.pt with a warning),
    or ``run`` itself when it is a checkpoint file."""
    if which not in ("best", "last"):
        raise ConfigError(f"checkpoint must be 'best' or 'last', got {which!r}")
    run = Path(run)
    if run.is_file():
        return run
    if not run.exists():
        raise ConfigError(f"{run}: no such run directory or checkpoint file")
    if not (run / CONFIG).is_file():
        raise ConfigError(f"{run}: not a run directory (no {CONFIG})")
    path = run / (BEST if which == "best" else LAST)
    if which == "best" and not path.is_file() and (run / LAST).is_file():
        warnings.warn(f"{path} not found (the run was never evaluated); using {LAST}", stacklevel=2)
        path = run / LAST
    if not path.is_file():
        raise ck.CheckpointError(f"{run}: the run has no checkpoint ({path.name} not found); "
                                 "was the training stopped before its first checkpoint?")
    return path


def load_trained(run: str | os.PathLike, *, checkpoint: Literal["best", "last"] = "best",
                 overrides: list[str] | tuple[str, ...] = ()) -> TrainedMethod:
    """The method of a run (directory or ``.pt`` file), weights loaded, in eval mode on the CPU.

    ``overrides`` (``a.b=value``, as ``--set``) change the stored config before the method is built:
    meant for inference options (e.g. ``method.decoder.refine=dark``); one that changes the network
    fails when the weights are loaded."""
    from kpdet.methods import get_method

    path = checkpoint_path(run, checkpoint)
    ckpt = ck.load_checkpoint(path)
    run_dir = Path(run)
    if run_dir.is_dir():
        cfg = load_config(run_dir / CONFIG, overrides, resolve_paths=False)
    else:
        if not isinstance(ckpt.get("config"), dict):
            raise ck.CheckpointError(f"{path}: the checkpoint stores no config; load its run directory instead")
        raw = copy.deepcopy(ckpt["config"])
        for item in overrides:
            apply_override(raw, item)
        cfg = config_from_dict(raw, str(path))
    ck.check_compatible(ckpt, cfg.method.name, None, str(path))
    method = get_method(cfg.method.name).from_config(cfg.method, ck.categories_to_schemas(ckpt["categories"]))
    ck.load_weights(method, ck.inference_weights(ckpt), str(path))
    method.eval()
    return TrainedMethod(cfg, method, path, int(ckpt.get("step", 0)))
