"""The training loop on Hugging Face Accelerate: CPU, one GPU or DDP over several GPUs/nodes.

The loop knows the method only through its interface (build_dataset, collate, forward,
loss, predict_batch). State that makes a run resumable after a kill at any moment:
weights, optimizer, scheduler, EMA, AMP scaler, RNG states of every process, and the
position (epoch, batches consumed) in the seeded epoch order of :class:`EpochSampler`.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from kpdet.config import Config, config_to_dict, dump_config
from kpdet.engine import checkpoint as ck
from kpdet.engine.ema import ModelEMA
from kpdet.engine.evaluate import evaluate_predictions, load_boxes, predict_dataset
from kpdet.engine.loader import EpochSampler, SafeDataset, SkipBadCollate
from kpdet.engine.logger import RunLogger
from kpdet.engine.optim import BudgetHorizon, build_optimizer, build_scheduler
from kpdet.engine.rundir import BEST, CONFIG, LAST, prepare_run_dir
from kpdet.engine.seed import get_rng_state, seed_everything, set_rng_state
from kpdet.errors import ConfigError, DataError, KpdetError
from kpdet.fileio import atomic_open


class TrainingStopped(KpdetError):
    """The run stopped on its own (non-finite loss, too many unreadable images)."""


@dataclass
class TrainState:
    step: int = 0  # optimizer steps done
    epoch: int = 0  # current epoch (0-based)
    batch: int = 0  # batches of `epoch` already consumed by each process
    best: dict[str, Any] | None = None  # {metric, value, epoch, step}
    metrics: dict[str, float] | None = None  # last evaluation


@dataclass
class TrainResult:
    run_dir: Path
    state: TrainState
    stopped: str | None = None  # None: all epochs done; "time budget"
    bad_items: dict[int, str] = field(default_factory=dict)


def make_accelerator(cfg: Config):
    from accelerate import Accelerator

    amp = cfg.train.amp
    if amp != "no" and not torch.cuda.is_available():
        warnings.warn(f"train.amp={amp} needs a GPU; training in float32", stacklevel=2)
        amp = "no"
    # Accelerate picks DDP over CPUs (gloo) only when told cpu=True; a multi-process launch
    # (torchrun / `accelerate launch --multi_gpu`) on a machine without CUDA means exactly that.
    cpu = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
    # rng_types=[]: the epoch order comes from EpochSampler (same on every process by
    # construction), so Accelerate need not broadcast generator states every epoch.
    return Accelerator(cpu=cpu, mixed_precision=amp, gradient_accumulation_steps=cfg.train.grad_accum,
                       rng_types=[])


def load_split(path: str | None, images: str | None, key: str):
    from kpdet.data.coco import load_coco

    if path is None:
        raise ConfigError(f"{key} is not set; give it in the config or with --set {key}=PATH")
    return load_coco(path, image_root=images)


def train(cfg: Config, run_dir: str | Path, *, resume: bool = False, force: bool = False,
          step_hook: Callable[[int], None] | None = None) -> TrainResult:
    """Train ``cfg`` into ``run_dir``; ``step_hook(step)`` runs after each optimizer step (tests)."""
    from accelerate.utils import gather_object

    from kpdet.methods import get_method

    run_dir = Path(run_dir)
    acc = make_accelerator(cfg)
    main = acc.is_main_process
    if main:
        how = prepare_run_dir(run_dir, resume=resume, force=force)
        if resume and how == "fresh":
            print(f"{run_dir}: no checkpoint to resume from; starting a new run")
    acc.wait_for_everyone()
    ckpt = ck.load_checkpoint(run_dir / LAST) if resume and (run_dir / LAST).is_file() else None
    if ckpt is not None and main:
        print(f"{run_dir}: resuming from step {ckpt['step']} (epoch {ckpt['epoch'] + 1}, batch {ckpt['batch']})")

    method_cls = get_method(cfg.method.name)
    train_coco = load_split(cfg.data.train, cfg.data.train_images, "data.train")
    schemas = {cid: s for cid, s in train_coco.schemas.items() if s.num_keypoints > 0}
    if not schemas:
        raise DataError(train_coco.source, "no category defines keypoints")
    if ckpt is not None:
        ck.check_compatible(ckpt, cfg.method.name, schemas, str(run_dir / LAST))
        _check_same_method_config(ckpt["config"].get("method", {}), config_to_dict(cfg)["method"], run_dir / LAST)

    seed_everything(cfg.train.seed)  # identical initial weights on every process
    method = method_cls.from_config(cfg.method, schemas)
    if cfg.train.channels_last:
        method.to(memory_format=torch.channels_last)  # convolutions then produce NHWC activations too
    val_coco = None
    if cfg.data.val is not None:
        val_coco = load_split(cfg.data.val, cfg.data.val_images, "data.val")
        method.check_schemas(val_coco.schemas, val_coco.source)
    val_boxes = load_boxes(cfg.data.val_boxes) if cfg.data.val_boxes else None

    train_ds = method.build_dataset(train_coco, train=True)
    if len(train_ds) == 0:
        raise DataError(train_coco.source, f"the training set is empty: {len(train_coco.images)} images, "
                        f"{len(train_coco.annotations)} annotations give no training items")
    safe_ds = SafeDataset(train_ds, cfg.train.seed, replace=True)
    bs, ga = cfg.train.batch_size, cfg.train.grad_accum
    sampler = EpochSampler(len(safe_ds), bs * acc.num_processes, cfg.train.seed)
    loader = DataLoader(safe_ds, batch_size=bs, sampler=sampler, num_workers=cfg.train.num_workers,
                        collate_fn=SkipBadCollate(method.collate), generator=torch.Generator())
    batches_per_epoch = sampler.epoch_length // (bs * acc.num_processes)  # per process
    steps_per_epoch = math.ceil(batches_per_epoch / ga)

    ema = ModelEMA(method, cfg.train.ema.decay) if cfg.train.ema.enabled else None
    optimizer = build_optimizer(method, cfg.train.optimizer)
    budget_s = 60 * cfg.train.max_minutes if cfg.train.max_minutes is not None else None
    horizon = BudgetHorizon(budget_s) if budget_s is not None and cfg.train.schedule.fit_budget else None
    scheduler = build_scheduler(optimizer, cfg.train.schedule, ticks_per_epoch=steps_per_epoch * acc.num_processes,
                                epochs=cfg.train.epochs, horizon=horizon)
    state = TrainState()
    if ckpt is not None:
        ck.load_weights(method, ckpt["model"], str(run_dir / LAST))
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if ema is not None and ckpt.get("ema"):
            ema.load_state_dict(ckpt["ema"])
        state = TrainState(ckpt["step"], ckpt["epoch"], ckpt["batch"], ckpt.get("best"), ckpt.get("metrics"))

    model, optimizer, loader, scheduler = acc.prepare(method, optimizer, loader, scheduler)
    if ema is not None:
        ema.module.to(acc.device)
    if ckpt is not None and ckpt.get("scaler") and acc.scaler is not None:
        acc.scaler.load_state_dict(ckpt["scaler"])
    rngs = ckpt["rng"] if ckpt is not None else None
    if rngs is not None and len(rngs) == acc.num_processes:
        set_rng_state(rngs[acc.process_index])
    else:
        if rngs is not None:
            warnings.warn(f"{run_dir / LAST} was written by {len(rngs)} process(es), this run has "
                          f"{acc.num_processes}: random streams are re-seeded", stacklevel=2)
        seed_everything(cfg.train.seed + 7919 * acc.process_index + state.step)

    if main:
        with atomic_open(run_dir / CONFIG, "w") as f:
            f.write(dump_config(cfg))
    logger = RunLogger(run_dir, enabled=main, resume_step=state.step if ckpt is not None else None)
    unwrapped = acc.unwrap_model(model)
    bad: dict[int, str] = {}
    bad_limit = cfg.train.max_bad_fraction * len(safe_ds)
    t0 = time.monotonic()
    session_start_step = state.step
    stopped: str | None = None

    def save_last() -> None:
        rng = gather_object([get_rng_state()])  # one entry per process
        if not main:
            return
        payload = {
            "method": cfg.method.name, "categories": ck.schemas_to_categories(schemas),
            "config": config_to_dict(cfg), "model": unwrapped.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
            "rng": rng, "step": state.step, "epoch": state.epoch, "batch": state.batch,
            "best": state.best, "metrics": state.metrics,
        }
        ck.save_checkpoint(run_dir / LAST, payload, save=acc.save)

    def run_eval(epoch_done: float) -> None:
        eval_method = ema.module if ema is not None else unwrapped
        val_ds = method.build_dataset(val_coco, train=False, boxes=val_boxes)
        if len(val_ds) == 0:
            raise DataError(val_coco.source, "the validation set gives no items to evaluate")
        preds, val_bad = predict_dataset(acc, eval_method, val_ds, batch_size=bs,
                                         num_workers=cfg.train.num_workers, desc="eval")
        if not main:
            return
        if val_bad:
            warnings.warn(f"{len(val_bad)} unreadable validation item(s) skipped: "
                          + "; ".join(msg for _, msg in val_bad[:5]), stacklevel=2)
        metrics = evaluate_predictions(val_coco, preds, metric=cfg.train.eval_metric,
                                       pck_alpha=cfg.train.pck_alpha)
        if cfg.train.best_metric not in metrics:
            raise ConfigError(f"train.best_metric '{cfg.train.best_metric}' is not a {cfg.train.eval_metric} "
                              f"metric; choose one of {', '.join(metrics)}")
        state.metrics = metrics
        logger.log(state.step, epoch_done, {f"val/{k}": v for k, v in metrics.items()})
        value = metrics[cfg.train.best_metric]
        better = state.best is None or (value > state.best["value"] if cfg.train.best_mode == "max"
                                        else value < state.best["value"])
        tqdm.write(f"epoch {epoch_done:.2f} step {state.step}: "
                   + "  ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:6]))
        if better:
            state.best = {"metric": cfg.train.best_metric, "value": value, "epoch": epoch_done, "step": state.step}
            ck.save_checkpoint(run_dir / BEST, {
                "method": cfg.method.name, "categories": ck.schemas_to_categories(schemas),
                "config": config_to_dict(cfg), "model": eval_method.state_dict(), "ema": None,
                "step": state.step, "epoch": state.epoch, "batch": state.batch,
                "best": state.best, "metrics": metrics}, save=acc.save)

    window: dict[str, float] = {}
    window_n = 0
    for epoch in range(state.epoch, cfg.train.epochs):
        start = state.batch if epoch == state.epoch else 0
        sampler.position(epoch, start * bs * acc.num_processes)
        safe_ds.epoch = epoch
        loader.set_epoch(epoch)
        model.train()
        batch_idx = start
        bar = tqdm(total=batches_per_epoch, initial=start, desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
                   disable=not acc.is_local_main_process, leave=False)
        for batch, bad_items in loader:
            for index, msg in bad_items:
                bad.setdefault(index, msg)
            if batch is None:
                raise TrainingStopped(f"no readable item in a whole batch at step {state.step}; "
                                      + _bad_summary(bad))
            images, targets, _ = batch
            if budget_s is not None:  # checked before the forward pass, which would move BN statistics
                clock = acc.reduce(torch.tensor([time.monotonic() - t0], device=acc.device), "sum")
                elapsed = float(clock[0]) / acc.num_processes  # same value on every process
                if elapsed > budget_s and batch_idx % ga == 0:
                    stopped = "time budget"
                    break
            with acc.accumulate(model):
                outputs = model(images)
                terms = unwrapped.loss(outputs, targets)
                loss = sum(terms.values())
                flags = acc.reduce(torch.tensor([float(not torch.isfinite(loss).item()), float(len(bad))],
                                                device=acc.device), "sum")
                if flags[0] > 0:
                    raise TrainingStopped(_nonfinite_message(state, epoch, terms, run_dir))
                if flags[1] > bad_limit:
                    raise TrainingStopped(f"more than train.max_bad_fraction={cfg.train.max_bad_fraction} of "
                                          f"the {len(safe_ds)} training items are unreadable; " + _bad_summary(bad))
                acc.backward(loss)
                if acc.sync_gradients and cfg.train.clip_grad is not None:
                    acc.clip_grad_norm_(model.parameters(), cfg.train.clip_grad)
                optimizer.step()
                if horizon is not None and acc.sync_gradients:
                    n = acc.num_processes
                    horizon.update(state.step * n, (state.step - session_start_step) * n, elapsed)
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            batch_idx += 1
            bar.update(1)
            for k, v in terms.items():
                window[k] = window.get(k, 0.0) + float(v.detach())
            window["loss"] = window.get("loss", 0.0) + float(loss.detach())
            window_n += 1
            if not acc.sync_gradients:
                continue
            state.step += 1
            state.epoch, state.batch = epoch, batch_idx
            if ema is not None:
                ema.update(unwrapped)
            if state.step % cfg.train.log_every == 0:
                values = {f"train/{k}": v / window_n for k, v in window.items()}
                values["lr"] = scheduler.get_last_lr()[0]
                logger.log(state.step, epoch + batch_idx / batches_per_epoch, values)
                bar.set_postfix(loss=f"{values['train/loss']:.4g}")
                window, window_n = {}, 0
            if cfg.train.checkpoint_every_steps and state.step % cfg.train.checkpoint_every_steps == 0:
                save_last()
            if step_hook is not None:
                step_hook(state.step)
        bar.close()
        if stopped is not None:
            loader.end()  # we left the loader early: drop it from Accelerate's gradient state
        else:
            state.epoch, state.batch = epoch + 1, 0
        last_epoch = stopped is not None or epoch + 1 == cfg.train.epochs
        every = cfg.train.eval_every
        if val_coco is not None and (last_epoch or (every and (epoch + 1) % every == 0)):
            run_eval(epoch + batch_idx / batches_per_epoch)
        save_last()
        if stopped is not None:
            break
    acc.wait_for_everyone()
    logger.close()
    bad = dict(gather_object(sorted(bad.items())))
    if main and bad:
        warnings.warn("skipped training items: " + _bad_summary(bad), stacklevel=2)
    return TrainResult(run_dir, state, stopped, bad)


def _bad_summary(bad: dict[int, str], limit: int = 10) -> str:
    shown = "; ".join(msg for _, msg in sorted(bad.items())[:limit])
    more = f" (and {len(bad) - limit} more)" if len(bad) > limit else ""
    return f"{len(bad)} unreadable: {shown}{more}"


def _nonfinite_message(state: TrainState, epoch: int, terms: dict[str, torch.Tensor], run_dir: Path) -> str:
    values = ", ".join(f"{k}={float(v.detach()):.6g}" for k, v in terms.items())
    here = all(math.isfinite(float(v.detach())) for v in terms.values())
    last = run_dir / LAST
    kept = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written yet"
    return (f"non-finite loss at step {state.step + 1} (epoch {epoch + 1}): {values or 'no terms'}"
            f"{' (finite here: the non-finite value is on another process)' if here else ''}; {kept}. "
            "Lower train.optimizer.lr, set train.clip_grad, or check the data.")


def _check_same_method_config(saved: dict[str, Any], current: dict[str, Any], source: Path) -> None:
    keys = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if keys:
        diffs = "; ".join(f"method.{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys[:8])
        raise ConfigError(f"{source}: --resume with a different method config ({diffs}); "
                          "start a new run (--out elsewhere) or restore the original settings")
