"""Exponential moving average of the model weights (evaluated and saved beside the raw weights)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class ModelEMA:
    """ema ← d·ema + (1 − d)·θ after every optimizer step, with d ramped up as
    min(decay, (1 + n)/(10 + n)) so the early average is not dominated by the random init."""

    def __init__(self, model: nn.Module, decay: float):
        # Copy the plain module before Accelerate wraps its forward (autocast), so the copy
        # owns its own forward; evaluation runs it under accelerator.autocast().
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        current = model.state_dict()
        for name, avg in self.module.state_dict().items():
            value = current[name].detach()
            if avg.dtype.is_floating_point:
                avg.lerp_(value.to(avg.dtype), 1.0 - d)
            else:
                avg.copy_(value)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
