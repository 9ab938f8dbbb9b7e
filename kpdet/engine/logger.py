"""Scalars of a run: ``metrics.csv`` (long format: step, epoch, name, value) and TensorBoard."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Mapping

from kpdet.engine.rundir import METRICS, TENSORBOARD
from kpdet.fileio import atomic_open

HEADER = ["step", "epoch", "name", "value"]


class RunLogger:
    """Writes on the main process only (``enabled``); elsewhere every call is a no-op."""

    def __init__(self, run_dir: Path, *, enabled: bool, resume_step: int | None = None):
        self.enabled = enabled
        self.path = run_dir / METRICS
        self.writer = None
        if not enabled:
            return
        if resume_step is not None:
            self._truncate_after(resume_step)
        if not self.path.exists():
            with atomic_open(self.path, "w") as f:
                f.write(",".join(HEADER) + "\n")
        from torch.utils.tensorboard import SummaryWriter

        # purge_step hides the events a killed run logged after its last checkpoint
        self.writer = SummaryWriter(str(run_dir / TENSORBOARD),
                                    purge_step=None if resume_step is None else resume_step + 1)

    def log(self, step: int, epoch: float, values: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", newline="") as f:
            w = csv.writer(f)
            for name, value in values.items():
                w.writerow([step, f"{epoch:.4f}", name, repr(float(value))])
        for name, value in values.items():
            if math.isfinite(value):
                self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def _truncate_after(self, step: int) -> None:
        """Drop rows a killed run wrote after its last checkpoint (and a half-written last line)."""
        if not self.path.exists():
            return
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(HEADER)
        with open(self.path, newline="") as f:
            for row in list(csv.reader(f))[1:]:
                if len(row) == 4 and row[0].isdigit() and int(row[0]) <= step:
                    w.writerow(row)
        with atomic_open(self.path, "w") as f:
            f.write(out.getvalue())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
