import math

import pytest
import torch
from torch import nn

from kpdet.config import OptimizerConfig, ScheduleConfig
from kpdet.engine.optim import BudgetHorizon, build_optimizer, build_scheduler, lr_factor


def test_schedules_per_step():
    cos = lr_factor(ScheduleConfig(name="cosine", warmup_epochs=1, warmup_start_ratio=0.0, min_lr_ratio=0.1),
                    ticks_per_epoch=10, epochs=5)
    assert cos(0) == 0.0 and cos(5) == pytest.approx(0.5) and cos(10) == pytest.approx(1.0)
    assert cos(30) == pytest.approx(0.1 + 0.9 * 0.5) and cos(50) == pytest.approx(0.1)
    step = lr_factor(ScheduleConfig(name="step", warmup_epochs=0, milestones=[2, 3.5], gamma=0.1),
                     ticks_per_epoch=10, epochs=5)
    assert [step(t) for t in (0, 19, 20, 34, 35)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    const = lr_factor(ScheduleConfig(name="constant", warmup_epochs=0), ticks_per_epoch=10, epochs=5)
    assert const(0) == const(49) == 1.0


def test_optimizers_and_weight_decay_groups():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    sgd = build_optimizer(model, OptimizerConfig(name="sgd", lr=0.1, weight_decay=1e-3))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"]
    decays = sorted((g["weight_decay"], len(g["params"])) for g in sgd.param_groups)
    assert decays == [(0.0, 3), (1e-3, 1)]  # conv bias + BN weight/bias undecayed
    assert isinstance(build_optimizer(model, OptimizerConfig(name="adamw")), torch.optim.AdamW)
    adam = build_optimizer(model, OptimizerConfig(name="adam", lr=0.5))
    sched = build_scheduler(adam, ScheduleConfig(name="constant", warmup_epochs=1, warmup_start_ratio=0.0),
                            ticks_per_epoch=4, epochs=2)
    lrs = []
    for _ in range(5):
        lrs.append(sched.get_last_lr()[0])
        adam.step()
        sched.step()
    assert lrs == pytest.approx([0, 0.125, 0.25, 0.375, 0.5])
    assert all(v is None for v in sched.state_dict()["lr_lambdas"])


def test_budget_horizon_compresses_the_schedule_to_the_budget():
    cfg = ScheduleConfig(name="cosine", warmup_epochs=1, warmup_start_ratio=0.0, min_lr_ratio=0.0)
    horizon = BudgetHorizon(budget_s=60.0)
    cos = lr_factor(cfg, ticks_per_epoch=10, epochs=100, horizon=horizon)  # 1000 ticks planned
    assert cos(500) == pytest.approx(0.5 * (1 + math.cos(math.pi * 490 / 990)))  # no pace known yet
    horizon.update(ticks_done=20, ticks_this_session=20, elapsed_s=20.0)  # 1 tick/s: 60 ticks fit
    assert horizon.ticks == pytest.approx(60)
    assert cos(35) == pytest.approx(0.5) and cos(60) == pytest.approx(0.0) and cos(900) == pytest.approx(0.0)
    horizon.update(ticks_done=1000, ticks_this_session=1, elapsed_s=1.0)  # never beyond the planned epochs
    assert cos(505) == pytest.approx(0.5)
    step = lr_factor(ScheduleConfig(name="step", warmup_epochs=0, milestones=[50], gamma=0.1),
                     ticks_per_epoch=10, epochs=100, horizon=horizon)
    horizon.update(ticks_done=10, ticks_this_session=10, elapsed_s=10.0)  # 60 of 1000 ticks fit
    assert step(29) == 1.0 and step(30) == pytest.approx(0.1)  # milestone scaled with the schedule
