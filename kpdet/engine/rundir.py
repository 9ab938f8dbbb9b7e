"""The run directory: what a run writes there, and protection against overwriting a run."""

from __future__ import annotations

import shutil
from pathlib import Path

from kpdet.errors import ConfigError

CONFIG, LAST, BEST, METRICS, TENSORBOARD = "config.yaml", "last.pt", "best.pt", "metrics.csv", "tb"
RUN_FILES = (CONFIG, LAST, BEST, METRICS, TENSORBOARD)


def holds_run(run_dir: Path) -> list[str]:
    return [name for name in RUN_FILES if (run_dir / name).exists()]


def prepare_run_dir(run_dir: Path, *, resume: bool, force: bool) -> str:
    """Check/clear the directory; returns 'fresh', 'resume' or 'overwrite' (main process only)."""
    if resume and force:
        raise ConfigError("--resume and --force contradict each other: choose one")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: exists and is not a directory")
    found = holds_run(run_dir) if run_dir.is_dir() else []
    if resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        return "resume" if (run_dir / LAST).is_file() else "fresh"
    if found and not force:
        raise ConfigError(f"{run_dir} already holds a run ({', '.join(found)}); pass --resume to continue it "
                          "or --force to overwrite it")
    for name in found:
        path = run_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    return "overwrite" if found else "fresh"
