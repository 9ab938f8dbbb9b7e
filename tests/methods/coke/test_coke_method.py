import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kpdet.config import load_config
from kpdet.methods import get_method
from kpdet.methods.coke.method import prototype_responses
from kpdet.schema import KeypointSchema
from kpdet.structures import map_to_image

SCHEMAS = {3: KeypointSchema("x", ("a", "b")), 7: KeypointSchema("y", ("p", "q", "r"))}
SMALL = {"name": "coke", "backbone": "resnet10t", "neck_channels": 16, "feature_stride": 4, "feature_dim": 8,
         "input_size": (32, 32), "clutter_groups": 4, "clutter_group_size": 5}


@pytest.fixture(scope="module")
def method():
    torch.manual_seed(0)
    return get_method("coke").from_config(dict(SMALL), SCHEMAS)


def _targets(cats):
    kp = torch.zeros(len(cats), 3, 3)
    kp[:, 0] = torch.tensor([10.0, 12.0, 2.0])
    kp[:, 1] = torch.tensor([25.0, 20.0, 2.0])
    kp[:, 2] = torch.tensor([20.0, 28.0, 1.0])
    return {"keypoints": kp, "category": torch.tensor(cats)}


def test_layout_and_banks(method):
    assert method.keypoint_bank.prototypes.shape == (5, 8)
    assert method.row_table.tolist() == [[0, 1, 0], [2, 3, 4]]
    assert method.row_valid.tolist() == [[True, True, False], [True, True, True]]
    assert "keypoint_bank.prototypes" in method.state_dict() and "clutter_bank.features" in method.state_dict()


def test_loss_trains_features_and_updates_banks_only_in_training(method):
    method.train()
    images = torch.rand(2, 3, 32, 32)
    terms = method.loss(method(images), _targets([0, 1]))
    assert set(terms) == {"keypoint", "clutter"}
    sum(terms.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.net.parameters())
    # visible keypoints initialised their prototypes; the hidden third keypoint of category 7 did not
    assert method.keypoint_bank.initialised.tolist() == [True, True, True, True, False]
    assert int(method.clutter_bank.clock) == 1 and method.clutter_bank.valid.sum() == 10
    bank = method.keypoint_bank.prototypes.clone()
    method.eval()
    method.loss(method(images), _targets([0, 1]))
    assert torch.equal(bank, method.keypoint_bank.prototypes) and int(method.clutter_bank.clock) == 1


def test_decode_recovers_planted_responses_for_several_categories(method):
    method.eval()
    d, h, w = 8, 16, 16
    protos = torch.eye(d)[:5]
    method.keypoint_bank.prototypes.copy_(protos)
    features = torch.zeros(3, d, h, w)
    features[:, 7] = 1.0  # background direction, orthogonal to every prototype
    planted = {0: [(3, 5), (9, 2)], 1: [(1, 1), (14, 7), (6, 12)], 2: [(0, 15), (15, 0)]}  # (x, y) cells
    cats = [3, 7, 3]
    rows = method.row_table[torch.tensor([0, 1, 0])]
    for b, cells in planted.items():
        for k, (x, y) in enumerate(cells):
            features[b, :, y, x] = protos[rows[b, k]]
    features = F.normalize(features, dim=1)
    shift = np.array([[1.0, 0.0, 100.0], [0.0, 1.0, 50.0]])  # crop → image: translate
    meta = [{"image_id": b, "category_id": c, "crop_to_image": shift} for b, c in enumerate(cats)]
    preds = method.decode({"features": features}, meta)
    assert [p.keypoints.shape for p in preds] == [(2, 3), (3, 3), (2, 3)]
    for b, p in enumerate(preds):
        expect = map_to_image(np.array(planted[b], np.float64), 4) + [100.0, 50.0]
        np.testing.assert_allclose(p.keypoints[:, :2], expect, atol=1e-4)
        np.testing.assert_allclose(p.keypoints[:, 2], 1.0, atol=1e-6)  # cosine 1 → score 1


def test_prototype_responses_are_a_1x1_convolution():
    f = F.normalize(torch.randn(2, 4, 3, 5), dim=1)
    mu = F.normalize(torch.randn(6, 4), dim=1)
    torch.testing.assert_close(prototype_responses(f, mu), torch.einsum("bdhw,pd->bphw", f, mu))


def test_ablation_variants_compute(method):
    for extra in ({"clutter": "image"}, {"clutter": "none", "clutter_loss": False},
                  {"objective": "classification"}, {"bank_update": "periodic", "negatives": "all"}):
        torch.manual_seed(0)
        m = get_method("coke").from_config({**SMALL, **extra}, SCHEMAS).train()
        terms = m.loss(m(torch.rand(2, 3, 32, 32)), _targets([1, 0]))
        assert all(torch.isfinite(t) for t in terms.values()), extra
        sum(terms.values()).backward()


def test_paper_size_parameter_count():
    from kpdet.commands.models import default_configs_dir

    cfg = load_config(default_configs_dir() / "coke" / "res50_256.yaml", resolve_paths=False)
    m = get_method("coke").from_config(cfg.method, {1: KeypointSchema("car", tuple(f"k{i}" for i in range(12)))})
    n = sum(p.numel() for p in m.parameters())
    assert abs(n / 23e6 - 1) < 0.1, n  # CoKe-Res50: 23M parameters (Sec. 4.3)
