"""The README's main job, `kpdet demo`, end to end at a toy size."""

import json

from kpdet.cli import main
from kpdet.commands.models import default_configs_dir
from kpdet.config import load_config


def test_demo_preset_is_a_valid_config():
    cfg = load_config(default_configs_dir() / "demo.yaml", resolve_paths=False)
    assert cfg.train.max_minutes is not None and cfg.train.max_minutes <= 8


def test_demo_writes_run_metrics_overlays_curves_and_report(tmp_path):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--train-images", "6", "--val-images", "3", "--size", "96",
               "--set", "train.epochs=1", "--set", "train.batch_size=4", "--set", "train.num_workers=0",
               "--set", "train.eval_every=1"])
    assert rc == 0
    metrics = json.loads((out / "run" / "val_metrics.json").read_text())
    assert 0.0 <= metrics["oks"]["AP"] <= 1.0 and "PCK" in metrics["pck"]
    assert (out / "run" / "best.pt").is_file() or (out / "run" / "last.pt").is_file()
    assert list((out / "overlays").glob("*.png")) and (out / "curves.png").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "kpdet demo" in html and "AP" in html
