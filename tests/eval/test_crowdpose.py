"""CrowdPose statistics must equal xtcocotools' crowdpose mode (use_area=False)."""

import contextlib
import copy
import io
import json

import numpy as np
import pytest

from kpdet.data.coco import load_coco, parse_coco
from kpdet.errors import DataError
from kpdet.eval import evaluate
from kpdet.eval.crowdpose import CROWD_KEYS
from kpdet.schema import CROWDPOSE14

from problem import make_problem, noisy_predictions

xtcocotools = pytest.importorskip("xtcocotools", reason="scripts/setup.sh installs xtcocotools")


def _xtcocotools_crowd(gt: dict, preds: list[dict], tmp_path) -> np.ndarray:
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(path))
        ev = COCOeval(cg, cg.loadRes(copy.deepcopy(preds)), "keypoints_crowd",
                      np.array(CROWDPOSE14.sigmas), use_area=False)
        ev.anno_file = (str(path), None)  # its easy/medium/hard split re-reads the file
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def _check(r: dict, ref: np.ndarray) -> None:
    ours = np.array([r[k] for k in CROWD_KEYS])
    np.testing.assert_allclose(ours[:6], ref[:6], atol=1e-12, rtol=0)
    # xtcocotools rounds the three crowd levels to 4 decimals
    np.testing.assert_allclose(np.round(ours[6:], 4), ref[6:], atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_crowd_set_equals_xtcocotools(seed, tmp_path):
    gt, preds = make_problem(250, seed, categories=((1, "person", 14),))
    gt["categories"][0]["sigmas"] = list(CROWDPOSE14.sigmas)
    for p in preds[::25]:
        p["keypoints"][2::3] = [0.0] * 14  # all keypoint scores 0: dropped by crowdpose mode
    r = evaluate(parse_coco(copy.deepcopy(gt)), preds, "crowdpose")
    assert all(r[f"AP_{k}"] > 0 for k in ("easy", "medium", "hard"))
    _check(r, _xtcocotools_crowd(gt, preds, tmp_path))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shared_crowdpose_equals_xtcocotools(shared_data, seed, tmp_path, recwarn):
    ds = load_coco(shared_data / "mmpose-testdata" / "crowdpose" / "test_crowdpose.json")
    gt = json.loads(json.dumps(ds.to_dict()))
    preds = noisy_predictions(gt, seed)
    _check(evaluate(ds, preds, "crowdpose"), _xtcocotools_crowd(gt, preds, tmp_path))


def test_missing_crowd_index_is_a_data_error():
    gt, preds = make_problem(5, 0)
    del gt["images"][2]["crowdIndex"]
    with pytest.raises(DataError, match=r"image id .*crowdIndex"):
        evaluate(parse_coco(gt), preds, "crowdpose")


def test_crowdpose_category_gets_crowdpose_sigmas(shared_data, recwarn):
    ds = load_coco(shared_data / "mmpose-testdata" / "crowdpose" / "test_crowdpose.json")
    assert ds.schemas[1].sigmas == CROWDPOSE14.sigmas
