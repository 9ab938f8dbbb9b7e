import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kpdet.config import load_config
from kpdet.engine.checkpoint import load_checkpoint
from kpdet.engine.logger import read_metrics
from kpdet.engine.trainer import TrainingStopped, train
from kpdet.errors import ConfigError, DataError


def run_train(overrides, run, extra=(), **kwargs):
    return train(load_config(None, [*overrides, *extra]), run, **kwargs)


def train_losses(run: Path) -> dict[int, float]:
    return {int(r["step"]): float(r["value"]) for r in read_metrics(run / "metrics.csv") if r["name"] == "train/loss"}


def assert_same_weights(a: Path, b: Path) -> None:
    ca, cb = load_checkpoint(a / "last.pt"), load_checkpoint(b / "last.pt")
    assert ca["step"] == cb["step"]
    for key in ("model",):
        for name, t in ca[key].items():
            torch.testing.assert_close(t, cb[key][name], rtol=1e-5, atol=1e-6, msg=name)
    for name, t in ca["ema"]["module"].items():
        torch.testing.assert_close(t, cb["ema"]["module"][name], rtol=1e-5, atol=1e-6, msg=f"ema {name}")


def test_run_writes_checkpoints_logs_and_config(toy_overrides, tmp_path):
    result = run_train(toy_overrides, tmp_path / "run", ["train.ema.enabled=true"])
    run = tmp_path / "run"
    assert result.state.step == 6 and result.state.epoch == 2 and result.stopped is None
    assert {"config.yaml", "last.pt", "best.pt", "metrics.csv", "tb"} <= {p.name for p in run.iterdir()}
    ckpt = load_checkpoint(run / "last.pt")  # weights_only=True inside
    assert ckpt["method"] == "toy" and ckpt["step"] == 6 and ckpt["ema"]["updates"] == 6
    assert ckpt["categories"][0]["keypoints"] == ["a", "b", "c"]
    names = {r["name"] for r in read_metrics(run / "metrics.csv")}
    assert {"train/coord", "train/spread", "train/loss", "lr", "val/AP"} <= names
    assert load_config(run / "config.yaml").train.ema.enabled


def test_same_seed_same_losses_other_seed_differs(toy_overrides, tmp_path):
    run_train(toy_overrides, tmp_path / "a")
    run_train(toy_overrides, tmp_path / "b")
    run_train(toy_overrides, tmp_path / "c", ["train.seed=1"])
    a, b, c = (train_losses(tmp_path / n) for n in "abc")
    assert len(a) == 6 and a == b
    assert a != c


def test_channels_last_trains_the_same_model(toy_overrides, tmp_path):
    run_train(toy_overrides, tmp_path / "nchw")
    run_train(toy_overrides, tmp_path / "nhwc", ["train.channels_last=true"])
    a, b = train_losses(tmp_path / "nchw"), train_losses(tmp_path / "nhwc")
    assert a.keys() == b.keys()
    assert all(math.isclose(a[k], b[k], rel_tol=1e-4, abs_tol=1e-6) for k in a)
    conv = next(t for t in load_checkpoint(tmp_path / "nhwc" / "last.pt")["model"].values() if t.ndim == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


def test_resume_after_sigkill_gives_the_same_weights(toy_overrides, tmp_path):
    extra = ["train.checkpoint_every_steps=2", "train.ema.enabled=true", "train.schedule.warmup_epochs=0.5"]
    run_train(toy_overrides, tmp_path / "straight", extra)
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "kill_run.py"), str(killed), "5",
                           *toy_overrides, *extra], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert load_checkpoint(killed / "last.pt")["step"] == 4  # step 5 was done but not saved
    result = run_train(toy_overrides, killed, extra, resume=True)
    assert result.state.step == 6
    assert_same_weights(tmp_path / "straight", killed)
    assert train_losses(killed) == train_losses(tmp_path / "straight")


class Stop(Exception):
    pass


def test_resume_mid_epoch_with_workers_and_accumulation(toy_overrides, tmp_path):
    extra = ["train.checkpoint_every_steps=1", "train.grad_accum=2", "train.num_workers=2",
             "train.ema.enabled=true", "train.epochs=3"]
    straight = run_train(toy_overrides, tmp_path / "straight", extra)
    assert straight.state.step == 6  # ceil(3 batches / 2) per epoch

    def stop_at_3(step):
        if step == 3:
            raise Stop

    with pytest.raises(Stop):
        run_train(toy_overrides, tmp_path / "stopped", extra, step_hook=stop_at_3)
    run_train(toy_overrides, tmp_path / "stopped", extra, resume=True)
    assert_same_weights(tmp_path / "straight", tmp_path / "stopped")


def test_nan_loss_stops_and_keeps_last_good_checkpoint(toy_overrides, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(TrainingStopped) as e:
        run_train(toy_overrides, run, ["train.checkpoint_every_steps=2", "method.nan_after=3"])
    msg = str(e.value)
    assert "non-finite loss at step 3" in msg and "coord=nan" in msg and "spread=" in msg
    assert str(run / "last.pt") in msg
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["step"] == 2
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values() if t.is_floating_point())


def test_run_dir_is_protected(toy_overrides, tmp_path):
    run = tmp_path / "run"
    run_train(toy_overrides, run, ["train.epochs=1"])
    before = (run / "last.pt").stat().st_mtime_ns
    with pytest.raises(ConfigError, match="already holds a run.*--resume.*--force"):
        run_train(toy_overrides, run, ["train.epochs=1"])
    assert (run / "last.pt").stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="contradict"):
        run_train(toy_overrides, run, ["train.epochs=1"], resume=True, force=True)
    result = run_train(toy_overrides, run, ["train.epochs=1", "train.seed=3"], force=True)
    assert result.state.step == 3 and load_checkpoint(run / "last.pt")["config"]["train"]["seed"] == 3


def test_resume_continues_to_more_epochs(toy_overrides, tmp_path):
    run = tmp_path / "run"
    run_train(toy_overrides, run, ["train.epochs=1"])
    result = run_train(toy_overrides, run, ["train.epochs=2"], resume=True)
    assert result.state.step == 6 and result.state.epoch == 2


def test_bad_images_are_skipped_and_named(tiny_coco, toy_overrides, tmp_path):
    from toy_method import DOTS

    train_json = tiny_coco("bad", n_images=10, schema=DOTS, bad_images=(2, 7), name="train.json")
    over = [*toy_overrides, f"data.train={train_json}"]
    result = run_train(over, tmp_path / "ok", ["train.max_bad_fraction=0.3"])
    assert result.state.step == 6
    assert sorted(Path(m.split(":")[0]).name for m in result.bad_items.values()) == ["img002.png", "img007.png"]
    with pytest.raises(TrainingStopped, match="max_bad_fraction=0.1.*img00[27].png"):
        run_train(over, tmp_path / "stop", ["train.max_bad_fraction=0.1"])


def test_checkpoint_of_another_method_or_schema_is_an_error(tiny_coco, toy_overrides, tmp_path):
    from kpdet.schema import KeypointSchema

    run = tmp_path / "run"
    run_train(toy_overrides, run, ["train.epochs=1"])
    with pytest.raises(ConfigError, match="written by method 'toy', the config asks for 'toy2'"):
        run_train(toy_overrides, run, ["train.epochs=2", "method.name=toy2"], resume=True)
    five = KeypointSchema("five", tuple("abcde"))
    other = tiny_coco("five", n_images=6, schema=five, name="train.json")
    with pytest.raises(ConfigError, match="keypoint counts"):
        run_train(toy_overrides, run, ["train.epochs=2", f"data.train={other}", "data.val=null"], resume=True)
    with pytest.raises(ConfigError, match="method.width"):
        run_train(toy_overrides, run, ["train.epochs=2", "method.width=4"], resume=True)


def test_empty_dataset_is_a_clear_error(tiny_coco, toy_overrides, tmp_path):
    from toy_method import DOTS

    empty = tiny_coco("empty", n_images=0, schema=DOTS, name="train.json")
    with pytest.raises(DataError, match="training set is empty"):
        run_train(toy_overrides, tmp_path / "run", [f"data.train={empty}"])


def test_time_budget_stops_evaluates_and_saves(toy_overrides, tmp_path):
    result = run_train(toy_overrides, tmp_path / "run", ["train.max_minutes=1e-9"])
    assert result.stopped == "time budget" and result.state.step == 0
    assert (tmp_path / "run" / "last.pt").is_file() and result.state.metrics is not None
    assert math.isfinite(result.state.metrics["AP"])
