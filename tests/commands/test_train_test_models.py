import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
import toy_method  # noqa: E402,F401

from kpdet.cli import main  # noqa: E402
from kpdet.schema import KeypointSchema  # noqa: E402

DOTS = KeypointSchema("dots", ("a", "b", "c"), sigmas=(0.1, 0.1, 0.1))


def test_train_then_test_via_cli(tiny_coco, tmp_path, capsys):
    train = tiny_coco("d", n_images=8, schema=DOTS, name="train.json")
    val = tiny_coco("d", n_images=3, schema=DOTS, seed=2, name="val.json")
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(f"method: {{name: toy}}\ndata: {{train: {train}, val: {val}}}\n"
                   "train: {epochs: 1, batch_size: 4, num_workers: 0}\n")
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--set", "train.seed=2"]) == 0
    assert "finished: 2 steps" in capsys.readouterr().out
    assert main(["train", str(cfg), "--out", str(run)]) == 2  # protected run dir: error, no traceback
    assert "already holds a run" in capsys.readouterr().err
    out = tmp_path / "m.json"
    assert main(["test", str(run), "--json", str(out), "--checkpoint", "last"]) == 0
    printed = capsys.readouterr().out
    assert "AP" in printed and "last.pt" in printed
    metrics = json.loads(out.read_text())["metrics"]
    assert set(metrics) >= {"AP", "AP50", "AR"}
    assert main(["test", str(run), "--checkpoint", "last", "--set", "method.dropout=0.5"]) == 0
    assert main(["test", str(run), "--set", "method.widht=4"]) == 2
    assert "unknown key 'method.widht'" in capsys.readouterr().err
    assert main(["test", str(run), "--set", "method.width=4"]) == 2  # another network: the weights do not fit
    five = tiny_coco("e", n_images=2, schema=KeypointSchema("five", tuple("abcde")), name="x.json")
    assert main(["test", str(run), "--data", str(five)]) == 2
    assert "has 5 keypoints, the model was built for 3" in capsys.readouterr().err


def test_config_errors_print_cleanly(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("method: {name: toy}\ntrain: {epochz: 1}\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'train.epochz'" in err and "Traceback" not in err


def test_models_lists_presets_with_params_and_flops(tmp_path, capsys):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "tiny.yaml").write_text("method: {name: toy, width: 4, input_size: 16}\n")
    (tmp_path / "toy" / "broken.yaml").write_text("method: {name: toy, widht: 4}\n")
    assert main(["models", "--configs", str(tmp_path), "--method", "toy"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("toy/tiny"))
    # conv1 3->4 (3x3, 8x8 out) + conv2 4->8 (3x3, 4x4 out) + linear 8->51 (K=17, coco17), as 2·MACs
    macs = 3 * 4 * 9 * 64 + 4 * 8 * 9 * 16 + 8 * 34
    params, gflops = float(line.split()[1]), float(line.split()[2])
    assert gflops == float(f"{2 * macs / 1e9:.4g}") and params > 0
    assert "toy/broken" in out and "unknown key 'method.widht'" in out
    assert "1 multiply-add = 2 FLOPs" in out
