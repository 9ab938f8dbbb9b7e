import numpy as np
import pytest

from kpdet.errors import DataError
from kpdet.viz.plots import plot_curves, read_metrics_csv

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _write_csv(path, steps=120):
    rng = np.random.default_rng(0)
    lines = ["epoch,step,loss,loss_heatmap,loss_offset,lr,AP,AR,note"]
    for s in range(steps):
        epoch = s // 20
        loss = 3.0 * np.exp(-s / 40) + 0.05 * rng.random()
        ap = f"{0.2 + 0.1 * epoch:.3f}" if s % 20 == 19 else ""
        ar = f"{0.3 + 0.1 * epoch:.3f}" if s % 20 == 19 else ""
        lines.append(f"{epoch},{s},{loss:.4f},{0.7 * loss:.4f},{0.3 * loss:.4f},{1e-3 * 0.98 ** s:.6f},{ap},{ar},run-a")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_plot_curves_writes_a_png(tmp_path):
    import cv2

    out = plot_curves(_write_csv(tmp_path / "metrics.csv"), tmp_path / "plots" / "curves.png")
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[0] > 400 and img.shape[1] > 600
    assert img.std() > 10  # not a blank canvas


def test_read_metrics_csv_keeps_numeric_columns_with_gaps(tmp_path):
    cols = read_metrics_csv(_write_csv(tmp_path / "m.csv"))
    assert "note" not in cols and {"epoch", "step", "loss", "AP", "lr"} <= set(cols)
    assert np.isnan(cols["AP"][0]) and np.isfinite(cols["AP"][19])


def test_plot_curves_without_x_column(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("loss,val_AP\n1.0,\n0.5,0.3\n0.25,0.5\n")
    assert plot_curves(csv, tmp_path / "c.png").read_bytes().startswith(PNG_SIGNATURE)


def test_bad_csv_names_the_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        plot_curves(tmp_path / "nope.csv", tmp_path / "c.png")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,comment\nfoo,bar\n")
    with pytest.raises(DataError, match="bad.csv.*no numeric"):
        plot_curves(bad, tmp_path / "c.png")
    only_x = tmp_path / "x.csv"
    only_x.write_text("epoch\n1\n2\n")
    with pytest.raises(DataError, match="nothing to plot"):
        plot_curves(only_x, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_long_format_of_the_engine_is_pivoted(tmp_path):
    from kpdet.viz.plots import read_metrics_csv

    p = tmp_path / "metrics.csv"
    p.write_text("step,epoch,name,value\n20,0.5,train/loss,3.0\n40,1.0,train/loss,2.0\n40,1.0,val/AP,0.25\n")
    cols = read_metrics_csv(p)
    assert cols["step"].tolist() == [20.0, 40.0]
    assert cols["train/loss"].tolist() == [3.0, 2.0]
    assert np.isnan(cols["val/AP"][0]) and cols["val/AP"][1] == 0.25
    assert "value" not in cols and "name" not in cols
