"""Synthetic generators: determinism, COCO validity, depth-tested visibility, occlusion levels."""

from __future__ import annotations

import numpy as np
import pytest

from kpdet.data.coco import load_coco
from kpdet.data.synth import body as B
from kpdet.data.synth.dataset import generate, image_rng, make_image
from kpdet.data.synth.figures import FiguresConfig, Person, render_people
from kpdet.data.synth.models import CATEGORIES
from kpdet.data.synth.objects import ObjectsConfig, PlacedObject, render_objects
from kpdet.data.synth.occlusion import LEVEL_RANGES, apply_occluders
from kpdet.data.synth.render3d import Camera
from kpdet.data.synth.scene import OCCLUDER, to_annotations
from kpdet.schema import COCO17

SMALL = {"figures": FiguresConfig(size=96, people=(1, 3)), "objects": ObjectsConfig(size=96, objects=(1, 3))}


@pytest.mark.parametrize("kind", ["figures", "objects"])
def test_same_seed_same_bytes_other_seed_differs(tmp_path, kind):
    paths = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate(kind, tmp_path / name, 2, seed, SMALL[kind], level=1)
        paths.append(tmp_path / name)
    files = ["annotations.json", "images/000000.png", "images/000001.png"]
    for f in files:
        assert (paths[0] / f).read_bytes() == (paths[1] / f).read_bytes(), f
    assert (paths[0] / files[1]).read_bytes() != (paths[2] / files[1]).read_bytes()


@pytest.mark.parametrize("kind", ["figures", "objects"])
def test_dataset_loads_and_annotations_are_consistent(tmp_path, kind):
    path = generate(kind, tmp_path, 3, 1, SMALL[kind], level=2)
    ds = load_coco(path)
    assert len(ds.images) == 3 and len(ds.annotations) >= 3
    for img in ds.images:
        assert ds.image_path(img["id"]).is_file()
    for a in ds.annotations:
        kps = np.asarray(a["keypoints"]).reshape(-1, 3)
        x, y, w, h = a["bbox"]
        assert a["area"] > 0 and w > 0 and h > 0
        assert a["area"] <= w * h + 1e-6
        assert a["num_keypoints"] == int((kps[:, 2] > 0).sum()) > 0
        assert np.all(kps[kps[:, 2] == 0] == 0), "unlabelled keypoints are written as (0, 0, 0)"
        lab = kps[kps[:, 2] > 0]
        assert np.all((lab[:, :2] >= -0.5) & (lab[:, :2] < 95.5))
        assert a["occlusion_level"] == 2
        assert 0.4 <= a["occluded_fraction"] <= 0.6


def test_categories_schemas():
    ds_cats = ObjectsConfig().categories
    assert len(ds_cats) >= 8
    from kpdet.data.synth.objects import categories
    cats = categories(ObjectsConfig())
    assert len(cats) >= 8 and len({c["name"] for c in cats}) == len(cats)
    for c in cats:
        k = len(c["keypoints"])
        assert 4 <= k <= 14, c["name"]
        assert len(c["sigmas"]) == k
        assert all(1 <= i <= k for e in c["skeleton"] + c["flip_pairs"] for i in e)
        for i, j in c["flip_pairs"]:
            left, right = c["keypoints"][i - 1], c["keypoints"][j - 1]
            assert left.startswith("left_") and right == "right_" + left[5:]
    from kpdet.data.synth.figures import category
    person = category()
    assert tuple(person["keypoints"]) == COCO17.keypoints and person["sigmas"] == list(COCO17.sigmas)
    assert len(person["flip_pairs"]) == 8


def _person(seed: int, depth: float, yaw: float, size: int = 128) -> Person:
    rng = np.random.default_rng(seed)
    body = B.sample_body(rng, yaw=yaw)
    scale = 0.7 * size
    pts = body.joints[:, :2] * scale
    offset = np.array([size / 2, size / 2]) - 0.5 * (pts.min(0) + pts.max(0))
    return Person(body, depth, scale, np.eye(2), offset)


def test_figures_nearer_person_hides_the_one_behind():
    cfg = FiguresConfig(size=128)
    far, near = _person(1, depth=3.0, yaw=0.0), _person(1, depth=1.0, yaw=0.0)  # same body, same place
    scene = render_people(np.random.default_rng(0), cfg, [near, far])
    # drawing order is far to near, so instance 0 is the far person
    assert scene.instances[0].depth == 3.0
    far_kps, near_kps = scene.instances[0].keypoints, scene.instances[1].keypoints
    assert np.all(far_kps[:, 2] == 1), "every keypoint of the covered person is hidden"
    assert (near_kps[:, 2] == 2).sum() >= 12
    assert not np.any(scene.owner == 0), "the far person shows no pixel"


def test_figures_profile_hides_far_side():
    cfg = FiguresConfig(size=128)
    scene = render_people(np.random.default_rng(0), cfg, [_person(3, 2.0, yaw=np.pi / 2)])
    kps = scene.instances[0].keypoints
    # yaw +90°: the person faces image right, the left side is away from the camera
    assert kps[B.L_HIP, 2] == 1 and kps[B.L_EAR, 2] == 1
    near = [B.R_EAR, B.R_SHO, B.R_ELB, B.R_WRI, B.R_HIP, B.R_KNE, B.R_ANK]
    assert (kps[near, 2] == 2).sum() >= 4


def _cabinet(t, pitch=0.3):
    rng = np.random.default_rng(0)
    cat = [c.name for c in CATEGORIES].index("cabinet")
    mesh, kps, colours = CATEGORIES[cat].build(rng)
    return PlacedObject(cat, mesh, kps, colours, (0.0, pitch, 0.0), np.asarray(t, float))


def test_objects_nearer_object_hides_the_one_behind():
    s = 128
    cam = Camera(1.5 * s, (s - 1) / 2, (s - 1) / 2)
    image = np.zeros((s, s, 3), np.uint8)
    far, near = _cabinet((0, 0, 8.0)), _cabinet((0, 0, 4.0))  # same model, twice as near: covers it
    scene = render_objects(np.random.default_rng(0), image, cam, [far, near], [])
    assert np.all(scene.instances[0].keypoints[:, 2] == 1)
    assert not np.any(scene.owner == 0)
    # self-occlusion of the near one (front facing, seen from above): back bottom corners hidden
    names = CATEGORIES[far.category].keypoints
    v = dict(zip(names, scene.instances[1].keypoints[:, 2]))
    assert v["left_back_bottom"] == 1 and v["right_back_bottom"] == 1
    assert all(v[f"{s}_front_{tb}"] == 2 for s in ("left", "right") for tb in ("top", "bottom"))
    assert v["left_back_top"] == 2 and v["right_back_top"] == 2


def test_objects_left_appears_on_image_right_when_facing_camera():
    s = 128
    cam = Camera(1.5 * s, (s - 1) / 2, (s - 1) / 2)
    scene = render_objects(np.random.default_rng(0), np.zeros((s, s, 3), np.uint8), cam, [_cabinet((0, 0, 5.0))], [])
    names = CATEGORIES[0].keypoints
    kps = dict(zip(names, scene.instances[0].keypoints))
    assert kps["left_front_top"][0] > kps["right_front_top"][0]
    assert kps["left_front_top"][1] < kps["left_front_bottom"][1]


@pytest.mark.parametrize("kind", ["figures", "objects"])
@pytest.mark.parametrize("level", [1, 2, 3])
def test_occluded_fraction_measured_on_mask_is_in_range(kind, level):
    from kpdet.data.synth.dataset import GENERATORS
    from kpdet.data.synth.scene import visible_enough

    rng = image_rng(11, level)
    lo, hi = LEVEL_RANGES[level]
    checked = 0
    while checked < 2:
        scene = GENERATORS[kind].render(rng, SMALL[kind])
        if not scene.instances or not visible_enough(scene, 0.15, 4):
            continue
        before = scene.owner.copy()
        fractions = apply_occluders(rng, scene, level)
        if fractions is None:
            continue
        for i, f in enumerate(fractions):
            mine = before == i
            measured = (mine & (scene.owner == OCCLUDER)).sum() / mine.sum()
            assert measured == pytest.approx(f)
            assert lo <= measured <= hi
        for inst, ann in zip(scene.instances, to_annotations(scene, level, fractions)):
            kps = np.asarray(ann["keypoints"]).reshape(-1, 3)
            cols = np.floor(kps[:, 0] + 0.5).astype(int).clip(0, 95)
            rows = np.floor(kps[:, 1] + 0.5).astype(int).clip(0, 95)
            under = (scene.owner[rows, cols] == OCCLUDER) & (kps[:, 2] > 0)
            assert np.all(kps[under, 2] == 1), "keypoints under an occluder are hidden"
        checked += 1


def test_level_zero_pastes_nothing():
    image, anns = make_image("objects", SMALL["objects"], 0, 2, 0)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    assert anns and all(a["occluded_fraction"] == 0.0 and a["occlusion_level"] == 0 for a in anns)
