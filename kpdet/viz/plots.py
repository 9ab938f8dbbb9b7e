"""Training curves from a metrics CSV, drawn with matplotlib's Agg canvas (no display, no pyplot state).

The CSV has a header row and one row per logged step or epoch. Columns are sorted into
panels by name: losses (``*loss*``), evaluation metrics (AP, AR, PCK, …), learning rate
(``lr*``) and anything else numeric. Empty cells are gaps (metrics are usually logged only
at the end of an epoch); non-numeric columns are ignored.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from pathlib import Path

import numpy as np

from kpdet.errors import DataError
from kpdet.fileio import atomic_open

_X_COLUMNS = ("step", "iter", "iteration", "global_step", "epoch")
_METRIC = re.compile(r"(^|[^a-z])(ap|ar|map|pck|pckh|oks|acc|accuracy|auc|f1|recall|precision|nme|epe)"
                     r"([^a-z]|$)", re.IGNORECASE)


def read_metrics_csv(csv_path: str | os.PathLike) -> dict[str, np.ndarray]:
    """{column: (rows,) float array} for the numeric columns; empty cells are NaN."""
    src = str(csv_path)
    if not Path(csv_path).is_file():
        raise DataError(src, "metrics CSV not found")
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or not any(h.strip() for h in rows[0]):
        raise DataError(src, "empty file, expected a header row (e.g. epoch,step,loss,AP)")
    header = [h.strip() for h in rows[0]]
    if {"step", "name", "value"} <= set(header):
        return _pivot_long(src, header, rows[1:])
    cols: dict[str, np.ndarray] = {}
    for c, name in enumerate(header):
        vals = []
        for row in rows[1:]:
            cell = row[c].strip() if c < len(row) else ""
            try:
                vals.append(float(cell) if cell else math.nan)
            except ValueError:
                break
        else:
            if name and len(rows) > 1:
                cols[name] = np.asarray(vals, np.float64)
    if not cols:
        raise DataError(src, f"no numeric columns with data (header: {', '.join(header)})")
    return cols


def _pivot_long(src: str, header: list[str], rows: list[list[str]]) -> dict[str, np.ndarray]:
    """The engine's long format (step, epoch, name, value: one row per logged value) → wide columns,
    one row per step, NaN where a name was not logged at that step."""
    i_step, i_name, i_value = header.index("step"), header.index("name"), header.index("value")
    i_epoch = header.index("epoch") if "epoch" in header else None
    table: dict[float, dict[str, float]] = {}
    for n, row in enumerate(rows, start=2):
        try:
            step, value = float(row[i_step]), float(row[i_value])
        except (ValueError, IndexError):
            raise DataError(src, f"expected numbers in 'step' and 'value', got {row}", record=f"line {n}") from None
        entry = table.setdefault(step, {})
        entry[row[i_name].strip()] = value
        if i_epoch is not None and row[i_epoch].strip():
            entry["epoch"] = float(row[i_epoch])
    if not table:
        raise DataError(src, "no logged values")
    steps = sorted(table)
    names = sorted({k for e in table.values() for k in e})
    cols = {"step": np.asarray(steps, np.float64)}
    cols.update({k: np.asarray([table[s].get(k, math.nan) for s in steps], np.float64) for k in names})
    return cols


def _panel(name: str) -> str:
    low = name.lower()
    if "loss" in low:
        return "loss"
    if low.startswith("lr") or "learning_rate" in low:
        return "learning rate"
    if _METRIC.search(name):
        return "metrics"
    return "other"


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average that ignores NaN cells."""
    ok = np.isfinite(y)
    k = np.ones(window)
    num = np.convolve(np.where(ok, y, 0.0), k, mode="same")
    den = np.convolve(ok.astype(np.float64), k, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, num / den, np.nan)


def plot_curves(csv_path: str | os.PathLike, out_png: str | os.PathLike, *, title: str | None = None,
                dpi: int = 110) -> Path:
    """Draw the CSV's curves into a PNG, one panel per kind of column; returns the PNG path.

    x is the first of step / iter / iteration / global_step / epoch present, else the row
    number. Loss panels with over 50 points show the raw values faintly and a moving average;
    a loss panel spanning more than 20× uses a log scale.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = read_metrics_csv(csv_path)
    xname = next((c for c in _X_COLUMNS if c in cols), None)
    x = cols[xname] if xname else np.arange(len(next(iter(cols.values()))), dtype=np.float64)
    ys = {k: v for k, v in cols.items() if k not in _X_COLUMNS and np.isfinite(v).any()}
    if not ys:
        raise DataError(str(csv_path), f"only x columns ({', '.join(cols)}), nothing to plot")
    order = ("loss", "metrics", "learning rate", "other")
    panels = {p: [k for k in ys if _panel(k) == p] for p in order}
    panels = {p: ks for p, ks in panels.items() if ks}

    fig = Figure(figsize=(8.5, 2.7 * len(panels) + 0.4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (panel, keys) in zip(axes, panels.items()):
        for i, k in enumerate(keys):
            y = ys[k]
            ok = np.isfinite(y) & np.isfinite(x)
            color = f"C{i % 10}"
            if panel == "loss" and ok.sum() > 50:
                ax.plot(x[ok], y[ok], color=color, alpha=0.25, linewidth=0.8)
                ax.plot(x[ok], _smooth(y[ok], max(5, int(ok.sum()) // 40)), color=color, linewidth=1.6, label=k)
            else:
                sparse = ok.sum() <= 60
                ax.plot(x[ok], y[ok], color=color, linewidth=1.5, marker="o" if sparse else None,
                        markersize=3.5, label=k)
        vals = np.concatenate([ys[k][np.isfinite(ys[k])] for k in keys])
        if panel == "loss" and vals.size and vals.min() > 0 and vals.max() / vals.min() > 20:
            ax.set_yscale("log")
        ax.set_ylabel(panel)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8, frameon=False, ncol=max(1, math.ceil(len(keys) / 6)))
    axes[-1].set_xlabel(xname or "row")
    fig.suptitle(title or Path(csv_path).name, fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    out_png = Path(out_png)
    with atomic_open(out_png, "wb") as f:
        f.write(buf.getvalue())
    return out_png
