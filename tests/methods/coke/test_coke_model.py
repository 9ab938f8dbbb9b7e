import numpy as np
import pytest
import torch

from kpdet.commands.models import default_configs_dir
from kpdet.config import load_config
from kpdet.errors import ConfigError
from kpdet.methods import get_method
from kpdet.methods.coke.config import CokeConfig
from kpdet.methods.coke.model import BackboneExtractor, HourglassExtractor, build_extractor
from kpdet.schema import KeypointSchema

HOURGLASS = {"name": "coke", "extractor": "hourglass", "hourglass": {"stacks": 2, "depth": 2, "channels": 8},
             "feature_stride": 4, "feature_dim": 6, "input_size": (32, 48)}


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_hourglass_extractor_gives_unit_features_at_the_feature_stride(stride):
    torch.manual_seed(0)
    net = build_extractor(CokeConfig.model_validate({**HOURGLASS, "feature_stride": stride}))
    assert isinstance(net, HourglassExtractor) and net.stride == stride and net.max_reduction == stride * 4
    images = torch.rand(2, 3, 32, 48)
    features = net(images)["features"]  # (B, D, H/s, W/s)
    assert features.shape == (2, 6, 32 // stride, 48 // stride)
    torch.testing.assert_close(features.norm(dim=1), torch.ones(2, 32 // stride, 48 // stride))


def test_every_hourglass_stack_feeds_the_features():
    torch.manual_seed(0)
    net = build_extractor(CokeConfig.model_validate(HOURGLASS)).train()
    net(torch.rand(2, 3, 32, 48))["features"][:, 0].sum().backward()
    assert len(net.stacks) == 2 and len(net.merges) == 1
    for part in (net.stem, net.stacks[0], net.merges[0], net.stacks[1], net.reduce):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters()), part


def test_backbone_extractor_stays_the_default_and_is_unit_norm():
    cfg = CokeConfig.model_validate({"name": "coke", "backbone": "resnet10t", "neck_channels": 8,
                                     "feature_stride": 4, "feature_dim": 6, "input_size": (32, 32)})
    net = build_extractor(cfg).eval()
    assert cfg.extractor == "backbone" and isinstance(net, BackboneExtractor)
    features = net(torch.rand(1, 3, 32, 32))["features"]
    assert features.shape == (1, 6, 8, 8)
    torch.testing.assert_close(features.norm(dim=1), torch.ones(1, 8, 8))


def test_hourglass_method_trains_and_decodes_at_its_stride():
    torch.manual_seed(0)
    schemas = {3: KeypointSchema("x", ("a", "b"))}
    m = get_method("coke").from_config(dict(HOURGLASS, clutter_groups=4, clutter_group_size=5), schemas).train()
    kp = torch.tensor([[[10.0, 12.0, 2.0], [25.0, 20.0, 2.0]]]).repeat(2, 1, 1)
    terms = m.loss(m(torch.rand(2, 3, 32, 48)), {"keypoints": kp, "category": torch.tensor([0, 0])})
    assert set(terms) == {"keypoint", "clutter"} and all(torch.isfinite(t) for t in terms.values())
    sum(terms.values()).backward()
    assert m.keypoint_bank.initialised.all()
    m.eval()
    meta = [{"image_id": 0, "category_id": 3, "crop_to_image": np.array([[1.0, 0, 0], [0, 1.0, 0]])}]
    with torch.no_grad():
        (pred,) = m.decode(m(torch.rand(1, 3, 32, 48)), meta)
    xy = pred.keypoints[:, :2]  # a (12, 8) feature map at stride 4 covers the 48×32 crop
    assert pred.keypoints.shape == (2, 3) and (xy >= 0).all() and (xy[:, 0] < 48).all() and (xy[:, 1] < 32).all()


@pytest.mark.parametrize("override, message", [
    (["method.feature_stride=8"], "feature_stride must be 1, 2 or 4"),
    (["method.input_size=[96, 96]"], "feature_stride·2^hourglass.depth = 64"),
    (["method.hourglass.depth=0"], "hourglass.depth"),
])
def test_hourglass_config_errors_name_the_field(override, message):
    with pytest.raises(ConfigError, match=message.replace("^", r"\^")):
        load_config(default_configs_dir() / "coke" / "hourglass_256.yaml", override, resolve_paths=False)


def test_hourglass_preset_matches_the_paper_size():
    cfg = load_config(default_configs_dir() / "coke" / "hourglass_256.yaml", resolve_paths=False)
    assert cfg.method.extractor == "hourglass" and cfg.method.feature_stride == 4
    m = get_method("coke").from_config(cfg.method, {1: KeypointSchema("car", tuple(f"k{i}" for i in range(12)))})
    n = sum(p.numel() for p in m.parameters())
    assert abs(n / 25e6 - 1) < 0.1, n  # SHGs: 25M parameters (Sec. 4.3)
