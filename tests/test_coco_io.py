import copy
import json

import numpy as np
import pytest

from kpdet.data.coco import load_coco, parse_coco, save_coco
from kpdet.errors import DataError
from kpdet.schema import COCO17, DEFAULT_SIGMA, KeypointSchema, builtin_schema


def _minimal(**ann_overrides):
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100.0,
           "iscrowd": 0, "keypoints": [1, 2, 2, 3, 4, 1]}
    ann.update(ann_overrides)
    return {"images": [{"id": 1, "file_name": "a.png", "width": 20, "height": 20}],
            "annotations": [ann],
            "categories": [{"id": 1, "name": "thing", "keypoints": ["a", "b"], "skeleton": [[1, 2]]}]}


def test_builtin_schemas_are_consistent():
    for name in ("coco17", "crowdpose14", "mpii16", "aic14"):
        s = builtin_schema(name)
        assert len(s.sigmas) == s.num_keypoints
        flip = s.flip_index
        assert np.array_equal(flip[flip], np.arange(s.num_keypoints))
        for a, b in s.flip_pairs:
            assert s.keypoints[a].replace("left", "right") == s.keypoints[b]


def test_category_roundtrip_keeps_schema():
    cat = COCO17.to_category(7)
    assert KeypointSchema.from_category(cat) == COCO17


def test_missing_sigmas_warn_and_default():
    s = KeypointSchema("mouse", ("snout", "tail"))
    with pytest.warns(UserWarning, match="no OKS sigmas"):
        assert np.allclose(s.sigma_array(), DEFAULT_SIGMA)


def test_multi_category_file_roundtrip(tmp_path):
    d = _minimal()
    d["categories"].append({"id": 2, "name": "other", "keypoints": ["x", "y", "z"]})
    d["annotations"].append({"id": 2, "image_id": 1, "category_id": 2, "bbox": [1, 1, 2, 2], "area": 4,
                             "keypoints": [0, 0, 0, -3, 5, 1, 5, 5, 2]})
    path = tmp_path / "ann.json"
    save_coco(d, path)
    ds = load_coco(path)
    inst = ds.instances(1)
    assert inst.keypoints.shape == (2, 3, 3)
    assert inst.keypoints[0, 2].tolist() == [0, 0, 0]  # padding past category 1's two keypoints
    assert inst.keypoints[1, 1].tolist() == [-3, 5, 1]  # hidden point outside the image is kept
    assert ds.annotations[1]["num_keypoints"] == 2


def test_missing_area_from_box_with_warning():
    d = _minimal()
    del d["annotations"][0]["area"]
    with pytest.warns(UserWarning, match="no 'area'"):
        ds = parse_coco(d, "x.json")
    assert ds.annotations[0]["area"] == 100.0


def test_parse_leaves_its_input_unchanged_and_copies_only_filled_records():
    d = _minimal()
    d["annotations"] += [
        {"id": 2, "image_id": 1, "category_id": 1, "keypoints": [1, 1, 2, 5, 7, 2]},  # no bbox/area/iscrowd/…
        {"id": 3, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 4, 4], "area": 16.0},  # crowd
        {"id": 4, "image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1], "area": 1.0, "iscrowd": 0,
         "num_keypoints": 1, "keypoints": [1, 1, 2]}]
    d["categories"].append({"id": 2, "name": "nameless", "skeleton": [[0, 0]]})  # no names, 0-based skeleton
    before = copy.deepcopy(d)
    with pytest.warns(UserWarning):
        ds = parse_coco(d, "x.json")
    assert d == before
    by_id = {a["id"]: a for a in ds.annotations}
    assert by_id[2]["bbox"] == [1.0, 1.0, 4.0, 6.0] and by_id[2]["area"] == 24.0
    assert by_id[2]["iscrowd"] == 0 and by_id[2]["num_keypoints"] == 2
    assert by_id[3]["keypoints"] == [0, 0, 0, 0, 0, 0] and by_id[3]["num_keypoints"] == 0
    assert ds.categories[1]["keypoints"] == ["kp1"] and ds.categories[1]["skeleton"] == [[1, 1]]
    assert by_id[4] is d["annotations"][3]  # complete records are shared, not copied
    ds.images.append({"id": 9, "file_name": "b.png"})
    assert d == before


@pytest.mark.parametrize("override, field", [
    ({"keypoints": [1, 2, 2]}, "keypoints"),
    ({"keypoints": [1, float("nan"), 2, 3, 4, 1]}, "keypoints"),
    ({"keypoints": [1, 2, 2, 3, float("inf"), 1]}, "keypoints"),
    ({"keypoints": [1, 2, 3, 3, 4, 1]}, "keypoints"),
    ({"area": -1.0}, "area"),
    ({"bbox": [0, 0, -1, 2]}, "bbox"),
    ({"category_id": 9}, "category_id"),
    ({"image_id": 9}, "image_id"),
])
def test_bad_annotations_name_file_record_and_field(override, field):
    with pytest.raises(DataError) as e:
        parse_coco(_minimal(**override), "bad.json")
    msg = str(e.value)
    assert "bad.json" in msg and "annotation id 1" in msg and f"'{field}'" in msg


def test_duplicate_ids_and_truncated_json(tmp_path):
    d = _minimal()
    d["annotations"].append(dict(d["annotations"][0]))
    with pytest.raises(DataError, match="annotation id 1.*duplicate"):
        parse_coco(d, "dup.json")
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_minimal())[:-20])
    with pytest.raises(DataError, match="t.json.*not valid JSON"):
        load_coco(p)


def test_images_without_instances_and_crowd(shared_data):
    ds = load_coco(shared_data / "mmpose-testdata/coco/test_coco.json")
    assert len(ds.images) == 4 and len(ds.annotations) == 14
    for img in ds.images:
        assert ds.instances(img["id"]).keypoints.shape[1:] == (17, 3)
    cp = load_coco(shared_data / "mmpose-testdata/crowdpose/test_crowdpose.json")
    assert cp.max_keypoints == 14
