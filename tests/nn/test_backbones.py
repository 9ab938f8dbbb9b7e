import pytest
import torch

from kpdet.errors import ConfigError
from kpdet.nn.backbones import Backbone
from kpdet.nn.deconv import DeconvHead


@pytest.mark.parametrize("name,reduction", [("resnet18", 32), ("mobilenetv2_050", 32)])
def test_backbone_deepest_level(name, reduction):
    b = Backbone(name)
    assert b.reductions == [reduction]
    (f,) = b(torch.zeros(1, 3, 64, 96))
    assert f.shape == (1, b.channels[0], 64 // reduction, 96 // reduction)


def test_backbone_errors_and_levels(tmp_path):
    with pytest.raises(ConfigError, match="unknown timm backbone"):
        Backbone("not_a_model_xyz")
    assert Backbone("resnet18", (-2, -1)).reductions == [16, 32]
    with pytest.raises(ConfigError, match="not found"):
        Backbone("resnet18", weights=tmp_path / "missing.pth")


def test_backbone_loads_local_weights(tmp_path):
    src = Backbone("resnet18")
    torch.save(src.body.state_dict(), tmp_path / "w.pth")
    dst = Backbone("resnet18", weights=tmp_path / "w.pth")
    assert torch.equal(dst.body.conv1.weight, src.body.conv1.weight)


@pytest.mark.parametrize("kernel", [2, 3, 4])
def test_deconv_head_doubles_per_layer(kernel):
    head = DeconvHead(8, [4, 4, 4], kernel)
    assert head(torch.zeros(1, 8, 3, 5)).shape == (1, 4, 24, 40)


def test_torchvision_backbone_levels_and_weight_names(tmp_path):
    import torchvision

    b = Backbone("torchvision/shufflenet_v2_x1_0", out_indices=(-2, -1))
    assert b.num_levels == 5 and b.channels == [232, 1024] and b.reductions == [16, 32]
    feats = b(torch.rand(1, 3, 64, 32))
    assert [tuple(f.shape) for f in feats] == [(1, 232, 4, 2), (1, 1024, 2, 1)]
    state = {k: v for k, v in torchvision.models.shufflenet_v2_x1_0().state_dict().items() if not k.startswith("fc.")}
    assert set(b.body.state_dict()) == set(state)  # torchvision's names: its checkpoints load as they are
    torch.save(state, tmp_path / "w.pth")
    b.load_weights(tmp_path / "w.pth")
    assert torch.equal(b.body.conv5[0].weight, state["conv5.0.weight"])
    with pytest.raises(ConfigError, match="torchvision backbone"):
        Backbone("torchvision/no_such_net")
