"""Optimisers and per-step learning-rate schedules."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from kpdet.config import OptimizerConfig, ScheduleConfig


def build_optimizer(model: nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """Weight decay applies to weight matrices/kernels only, not to biases and norm scales (1-D)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        from kpdet.errors import ConfigError
        raise ConfigError("the model has no trainable parameters")
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0)
    opt_cls = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
    return opt_cls(groups, lr=cfg.lr, betas=(cfg.momentum, cfg.beta2))


class BudgetHorizon:
    """The number of scheduler ticks that fit in a wall-clock budget, re-estimated from the pace so
    far (evaluations included), so that a decaying schedule ends when the budget does instead of
    being cut off at a high learning rate (Li et al., "Budgeted Training", ICLR 2020)."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.ticks = math.inf

    def update(self, ticks_done: int, ticks_this_session: int, elapsed_s: float) -> None:
        if elapsed_s > 0 and ticks_this_session > 0:
            rate = ticks_this_session / elapsed_s
            self.ticks = ticks_done + rate * max(0.0, self.budget_s - elapsed_s)


def lr_factor(cfg: ScheduleConfig, ticks_per_epoch: int, epochs: int,
              horizon: BudgetHorizon | None = None) -> Callable[[int], float]:
    """Multiplier of the base lr after ``tick`` scheduler steps (one tick = one optimizer step
    of one process; Accelerate steps a prepared scheduler once per process per optimizer step).
    With a ``horizon``, the schedule after warm-up is compressed to end within it."""
    warmup = cfg.warmup_epochs * ticks_per_epoch
    total = max(1, epochs * ticks_per_epoch)

    def factor(tick: int) -> float:
        if tick < warmup:
            return cfg.warmup_start_ratio + (1 - cfg.warmup_start_ratio) * tick / warmup
        if cfg.name == "constant":
            return 1.0
        end = total if horizon is None else max(warmup + 1, min(total, horizon.ticks))
        if cfg.name == "step":
            scale = (end - warmup) / max(1.0, total - warmup)
            return cfg.gamma ** sum(tick >= warmup + (m * ticks_per_epoch - warmup) * scale for m in cfg.milestones)
        t = min(1.0, (tick - warmup) / max(1.0, end - warmup))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, *, ticks_per_epoch: int,
                    epochs: int, horizon: BudgetHorizon | None = None) -> torch.optim.lr_scheduler.LambdaLR:
    # A closure (not a callable object) keeps the scheduler's state_dict free of pickled code.
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg, ticks_per_epoch, epochs, horizon))
