import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _instance_figures import SQUARE, make_figures  # noqa: E402

from kpdet.errors import ConfigError  # noqa: E402
from kpdet.methods import get_method, method_names  # noqa: E402
from kpdet.schema import COCO17  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SMALL = {"name": "topdown", "backbone": "resnet18", "backbone_out_index": -2, "input_size": [64, 48],
         "deconv_channels": [32, 32], "sigma": 1.5, "decoder": {"refine": "log_quadratic", "flip_test": False}}


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    return make_figures(tmp_path_factory.mktemp("figs"), n_images=4)


def _method(schemas, **overrides):
    return get_method("topdown").from_config({**SMALL, **overrides}, schemas)


def test_registered():
    assert "topdown" in method_names() and get_method("topdown").name == "topdown"


@pytest.mark.parametrize("schemas,channels", [({1: SQUARE}, 4), ({1: COCO17}, 17), ({1: COCO17, 2: SQUARE}, 21)])
def test_forward_loss_backward_decode_shapes(schemas, channels, figures):
    m = _method(schemas)
    ds = m.build_dataset(figures, train=True)
    images, targets, meta = m.collate([ds[i] for i in range(min(4, len(ds)))])
    out = m(images)
    assert out["heatmaps"].shape == (len(meta), channels, 16, 12)
    assert targets["heatmap"].shape == out["heatmaps"].shape and targets["weight"].shape == (len(meta), channels)
    terms = m.loss(out, targets)
    assert set(terms) == {"heatmap"} and terms["heatmap"].ndim == 0
    terms["heatmap"].backward()
    assert m.net.final.weight.grad.abs().sum() > 0
    m.eval()
    preds = m.predict_batch(images, meta)
    assert len(preds) == len(meta)
    for p, mt in zip(preds, meta):
        assert p.keypoints.shape == (schemas[mt["category_id"]].num_keypoints, 3)
        assert p.category_id == mt["category_id"] and p.image_id == mt["image_id"]


def test_config_errors():
    with pytest.raises(ValidationError):
        _method({1: COCO17}, colour="red")
    with pytest.raises(ConfigError, match="heatmap stride"):
        _method({1: COCO17}, deconv_channels=[32, 32, 32])
    with pytest.raises(ConfigError, match="divisible"):
        _method({1: COCO17}, input_size=[72, 48])
    with pytest.raises(ConfigError, match="half_body_split"):
        _method({1: SQUARE}, augment={"half_body_split": {1: [[0, 1], [2, 7]]}})
    assert _method({1: SQUARE}, augment={"half_body_split": {1: [[0, 1], [2, 3]]}}).augmentation().halves == {1: ([0, 1], [2, 3])}


@pytest.mark.parametrize("refine,tol_cells", [("log_quadratic", 0.01), ("quarter", 0.25)])
def test_targets_decode_back_to_image_keypoints(figures, refine, tol_cells):
    m = _method({1: COCO17, 2: SQUARE}, decoder={"refine": refine, "flip_test": False})
    ds = m.build_dataset(figures, train=False)
    items = [ds[i] for i in range(len(ds))]
    _, targets, meta = m.collate(items)
    preds = m.decode({"heatmaps": targets["heatmap"]}, meta)
    for p, mt, w in zip(preds, meta, targets["weight"]):
        ann = next(a for a in figures.annotations if a["id"] == mt["ann_id"])
        kp = np.asarray(ann["keypoints"]).reshape(-1, 3)
        on = w[m.blocks.channels(mt["category_id"])].numpy() > 0
        px_per_cell = 4 * np.linalg.norm(mt["crop_to_image"][:, 0])
        err = np.abs(p.keypoints[on, :2] - kp[on, :2]).max()
        assert err <= tol_cells * px_per_cell + 1e-3
        assert 0.85 < p.score <= 1.0  # maxvals of sub-pixel Gaussians (sigma 1.5), GT box score 1
        assert on.sum() > 0


def test_score_is_mean_confident_maxval_times_box_score():
    m = _method({1: SQUARE})
    heatmaps = torch.zeros(1, 4, 16, 12)
    heatmaps[0, :, 5, 5] = torch.tensor([0.9, 0.5, 0.1, 0.05])
    meta = [{"image_id": 3, "category_id": 1, "crop_to_image": np.eye(2, 3), "box_score": 0.5, "bbox": [0, 0, 1, 1]}]
    (p,) = m.decode({"heatmaps": heatmaps}, meta)
    assert p.score == pytest.approx(0.5 * (0.9 + 0.5) / 2)
    np.testing.assert_allclose(p.keypoints[:, :2], 4 * 5 + 1.5, atol=1e-6)


def test_overfit_a_few_crops_lowers_the_loss(figures):
    torch.manual_seed(0)
    m = _method({1: COCO17, 2: SQUARE})
    ds = m.build_dataset(figures, train=False)
    images, targets, _ = m.collate([ds[i] for i in range(len(ds))])
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = m.loss(m(images), targets)["heatmap"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * losses[0]


@pytest.mark.parametrize("preset", sorted((ROOT / "configs" / "topdown").glob("*.yaml")), ids=lambda p: p.stem)
def test_presets_build(preset):
    cfg = yaml.safe_load(preset.read_text())
    assert {"method", "data", "train"} <= set(cfg)
    method = get_method(cfg["method"]["name"]).from_config(cfg["method"], {1: COCO17})
    n = sum(p.numel() for p in method.parameters())
    if preset.stem == "res50_256x192":
        assert round(n / 1e6, 1) == 34.0  # SimpleBaseline-R50 (Xiao et al. 2018, Table 2/3): 34.0M
    x = method.example_input(method.cfg)
    if preset.stem == "tiny":
        assert method(x)["heatmaps"].shape[1] == 17


@pytest.mark.parametrize("schemas", [{1: COCO17}, {1: COCO17, 2: SQUARE}])
def test_predict_batch_flip_in_the_decoder_equals_the_stored_average(schemas, figures):
    torch.manual_seed(0)
    decoder = {"refine": "parabola", "flip_test": True, "flip_ssp_r": 1.25, "gaussian_filter": True}
    m = _method(schemas, decoder=decoder).eval()
    ds = m.build_dataset(figures, train=False)
    images, _, meta = m.collate([ds[i] for i in range(min(6, len(ds)))])
    with torch.no_grad():
        stored = m.decode({"heatmaps": m.decoder.heatmaps(lambda x: m(x)["heatmaps"], images, m.flip_index)}, meta)
    fused = m.predict_batch(images, meta)
    assert {p.category_id for p in fused} == set(schemas)
    for a, b in zip(stored, fused):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
        assert a.score == pytest.approx(b.score, abs=1e-6)
