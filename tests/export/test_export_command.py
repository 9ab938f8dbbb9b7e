"""`kpdet export` on a run directory, `kpdet.load("model.onnx")`, and clear errors for bad input."""

import json

import cv2
import numpy as np
import onnx
import pytest

import kpdet
from kpdet.cli import main
from kpdet.config import dump_config
from kpdet.engine.checkpoint import save_checkpoint, schemas_to_categories
from kpdet.schema import COCO17


@pytest.fixture(scope="module")
def coke_run(tmp_path_factory):
    """A run directory (config.yaml + best.pt) of a tiny random CoKe: its decoding reads prototypes
    that live outside the graph, so the exported file must carry them."""
    from _tiny_models import build_tiny

    run = tmp_path_factory.mktemp("coke_run")
    method, cfg = build_tiny("coke", {1: COCO17})
    (run / "config.yaml").write_text(dump_config(cfg))
    save_checkpoint(run / "best.pt", {"method": "coke", "categories": schemas_to_categories(method.schemas),
                                      "config": cfg.model_dump(mode="json"), "model": method.state_dict(),
                                      "ema": None, "step": 3})
    return run


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(1)
    for i in range(3):
        cv2.imwrite(str(folder / f"im{i}.png"), rng.integers(0, 255, (60 + 8 * i, 80, 3), dtype=np.uint8))
    return folder


def _same_predictions(a, b, tol=0.01):
    assert len(a) == len(b) and all(len(x) == len(y) for x, y in zip(a, b))
    for x, y in zip(a, b):
        for p, q in zip(x, y):
            assert (p.image_id, p.category_id) == (q.image_id, q.category_id)
            assert np.abs(p.keypoints[:, :2] - q.keypoints[:, :2]).max() <= tol
            assert p.score == pytest.approx(q.score, abs=1e-4)


def test_export_then_load_predicts_like_the_run(coke_run, images, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    assert main(["export", str(coke_run), "--format", "onnx", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 1 and not dims[2].dim_value  # batch 1, any height
    want = kpdet.load(coke_run, device="cpu").predict(images, batch_size=2)
    got = kpdet.load(out).predict(images, batch_size=2)  # batches of 2 run as 2 × 1 through the graph
    assert sum(len(x) for x in want) == 3
    _same_predictions(got, want)
    assert not [p for p in tmp_path.iterdir() if p.name != "model.onnx"]  # no temporary left


def test_dynamic_batch_and_simplify(coke_run, images, tmp_path):
    out = tmp_path / "simple.onnx"
    assert main(["export", str(coke_run), "--out", str(out), "--dynamic-batch", "--simplify"]) == 0
    model = onnx.load(str(out))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["kpdet.method"] == "coke" and json.loads(meta["kpdet.source"])["step"] == 3
    _same_predictions(kpdet.load(out).predict(images, batch_size=3), kpdet.load(coke_run, device="cpu").predict(images))


def test_predict_command_takes_an_onnx_model(coke_run, images, tmp_path):
    model = tmp_path / "m.onnx"
    assert main(["export", str(coke_run), "--out", str(model), "--fixed-size"]) == 0
    assert main(["predict", str(model), "--images", str(images), "--out", str(tmp_path / "pred"), "--no-draw"]) == 0
    assert len(json.loads((tmp_path / "pred" / "predictions.json").read_text())) == 3


def test_fixed_size_model_refuses_other_sizes(coke_run, tmp_path):
    import torch

    model = tmp_path / "fixed.onnx"
    assert main(["export", str(coke_run), "--out", str(model), "--fixed-size"]) == 0
    method = kpdet.load(model).method
    with pytest.raises(kpdet.errors.ConfigError, match="exported for 64×64 inputs, got 32×64"):
        method(torch.zeros(1, 3, 32, 64))


def _error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_input_gives_clear_errors(coke_run, tmp_path, capsys):
    no_ckpt = tmp_path / "empty_run"
    no_ckpt.mkdir()
    (no_ckpt / "config.yaml").write_text((coke_run / "config.yaml").read_text())
    out = str(tmp_path / "m.onnx")
    assert "the run has no checkpoint" in _error(["export", str(no_ckpt), "--out", out], capsys)
    assert "no such run directory" in _error(["export", str(tmp_path / "nope"), "--out", out], capsys)
    assert "unknown export format 'tflite'; available: onnx" in _error(
        ["export", str(coke_run), "--format", "tflite", "--out", out], capsys)
    err = _error(["export", str(coke_run), "--out", str(tmp_path / "missing" / "m.onnx")], capsys)
    assert f"the output directory {tmp_path / 'missing'} does not exist" in err
    assert "is a directory" in _error(["export", str(coke_run), "--out", str(tmp_path)], capsys)
    assert not (tmp_path / "missing").exists() and not (tmp_path / "m.onnx").exists()


def test_loading_a_foreign_or_broken_file_is_a_clear_error(coke_run, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx at all")
    with pytest.raises(kpdet.errors.KpdetError, match="not a readable ONNX model"):
        kpdet.load(junk)
    plain = tmp_path / "plain.onnx"
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), str(plain))
    with pytest.raises(kpdet.errors.KpdetError, match="not a kpdet ONNX model"):
        kpdet.load(plain)
    with pytest.raises(kpdet.errors.ConfigError, match="not found"):
        kpdet.load(tmp_path / "absent.onnx")


def test_a_failed_export_keeps_the_previous_file(coke_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous")

    def broken(model):
        raise RuntimeError("disk full")
    monkeypatch.setattr(onnx.checker, "check_model", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        main(["export", str(coke_run), "--out", str(out)])
    assert out.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
