import json
import os
import subprocess
import sys
from pathlib import Path

from kpdet.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _files(tmp_path, shared_data):
    gt = shared_data / "mmpose-testdata" / "coco" / "test_coco.json"
    anns = json.loads(gt.read_text())["annotations"]
    preds = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 0.9}
             for a in anns if a["num_keypoints"] > 0]
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(preds))
    return gt, pred


def test_eval_prints_table_and_writes_json(tmp_path, shared_data, capsys):
    gt, pred = _files(tmp_path, shared_data)
    out = tmp_path / "res" / "metrics.json"
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "AP50" in text and "PCK@0.1" in text and "visibility=hidden" in text
    res = json.loads(out.read_text())
    assert abs(res["AP"] - 1.0) < 1e-12 and res["categories"]["person"]["AR"] == 1.0


def test_eval_pckh_prints_per_keypoint(tmp_path, shared_data, capsys):
    gt, pred = _files(tmp_path, shared_data)
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--metric", "pck", "--pck-norm", "torso"]) == 0
    assert "left_ankle" in capsys.readouterr().out


def test_eval_bad_predictions_exit_2_without_traceback(tmp_path, shared_data, capsys):
    gt, _ = _files(tmp_path, shared_data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 785, "category_id": 1, "keypoints": [1, 2], "score": 1}]))
    assert main(["eval", "--gt", str(gt), "--pred", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json, result #0, field 'keypoints'" in err and "Traceback" not in err


def test_eval_does_not_import_torch(tmp_path, shared_data):
    gt, pred = _files(tmp_path, shared_data)
    code = ("import sys; from kpdet.cli import main; "
            f"rc = main(['eval', '--gt', {str(gt)!r}, '--pred', {str(pred)!r}]); "
            "assert rc == 0; assert 'torch' not in sys.modules, 'torch imported'")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
