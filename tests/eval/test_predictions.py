"""Result files: every kind of bad input names the file, the result index and the field."""

import json
import math

import pytest

from kpdet.data.coco import parse_coco
from kpdet.errors import DataError
from kpdet.eval import evaluate


def _gt():
    return parse_coco({
        "images": [{"id": 5, "file_name": "a.png"}, {"id": 6, "file_name": "b.png"}],
        "annotations": [{"id": 1, "image_id": 5, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100.0,
                         "keypoints": [1, 2, 2, 3, 4, 1]}],
        "categories": [{"id": 1, "name": "thing", "keypoints": ["a", "b"], "sigmas": [0.05, 0.05]}]})


def _good(**kw):
    r = {"image_id": 5, "category_id": 1, "keypoints": [1, 2, 0.9, 3, 4, 0.8], "score": 0.7}
    r.update(kw)
    return r


def _write(tmp_path, obj):
    p = tmp_path / "pred.json"
    p.write_text(json.dumps(obj))
    return p


def test_not_a_list(tmp_path):
    p = _write(tmp_path, {"results": []})
    with pytest.raises(DataError, match=r"pred\.json: expected a JSON list"):
        evaluate(_gt(), p)


def test_invalid_json(tmp_path):
    p = tmp_path / "pred.json"
    p.write_text('[{"image_id": 5,')
    with pytest.raises(DataError, match=r"pred\.json: not valid JSON"):
        evaluate(_gt(), p)


@pytest.mark.parametrize("field", ["image_id", "category_id", "keypoints", "score"])
def test_missing_field(tmp_path, field):
    bad = _good()
    del bad[field]
    p = _write(tmp_path, [_good(), bad])
    with pytest.raises(DataError, match=rf"pred\.json, result #1, field '{field}': missing") as e:
        evaluate(_gt(), p)
    assert e.value.field == field and e.value.record == "result #1"


def test_not_an_object(tmp_path):
    with pytest.raises(DataError, match=r"result #0: expected an object"):
        evaluate(_gt(), _write(tmp_path, [[1, 2]]))


def test_wrong_keypoint_length_names_the_category(tmp_path):
    p = _write(tmp_path, [_good(), _good(keypoints=[1, 2, 1])])
    with pytest.raises(DataError, match=r"result #1, field 'keypoints': expected 6 numbers .*category 1.*got 3"):
        evaluate(_gt(), p)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_keypoints(value):
    bad = _good(keypoints=[1, 2, 0.9, value, 4, 0.8])
    with pytest.raises(DataError, match=r"result #2, field 'keypoints': element 3 is .*finite"):
        evaluate(_gt(), [_good(), _good(), bad])


def test_non_numeric_keypoints():
    with pytest.raises(DataError, match=r"result #0, field 'keypoints': element 1 is '2'"):
        evaluate(_gt(), [_good(keypoints=[1, "2", 0.9, 3, 4, 0.8])])


@pytest.mark.parametrize("value", [math.nan, math.inf, "0.5", None])
def test_bad_score(value):
    with pytest.raises(DataError, match=r"result #0, field 'score'"):
        evaluate(_gt(), [_good(score=value)])


def test_non_finite_in_file_is_caught(tmp_path):
    p = tmp_path / "pred.json"
    p.write_text('[{"image_id": 5, "category_id": 1, "keypoints": [1, 2, 1, NaN, 4, 1], "score": 0.5}]')
    with pytest.raises(DataError, match=r"pred\.json, result #0, field 'keypoints'"):
        evaluate(_gt(), p)


def test_unknown_category(tmp_path):
    p = _write(tmp_path, [_good(category_id=3)])
    with pytest.raises(DataError, match=r"result #0, field 'category_id': unknown category_id 3"):
        evaluate(_gt(), p)


def test_bad_bbox():
    with pytest.raises(DataError, match=r"result #0, field 'bbox'"):
        evaluate(_gt(), [_good(bbox=[0, 0, 10])])


def test_unknown_images_are_dropped_with_one_warning(tmp_path):
    preds = [_good()] + [_good(image_id=i) for i in (100, 101, 101, 102)]
    with pytest.warns(UserWarning, match=r"pred\.json: dropped 4 result\(s\) for 3 image id\(s\).*100, 101, 102"):
        r = evaluate(_gt(), _write(tmp_path, preds))
    assert r["num_predictions"] == 1
    assert r["AP"] == pytest.approx(1.0, abs=1e-12)  # COCO's precision tp / (tp + fp + eps)


def test_unknown_images_silent_when_asked(recwarn):
    evaluate(_gt(), [_good(image_id=99)], warn_unknown=False)
    assert not [w for w in recwarn if "dropped" in str(w.message)]
