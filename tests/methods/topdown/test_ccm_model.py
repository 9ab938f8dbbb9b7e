"""CCM inside the topdown method: decoder choice, auxiliary decoder (Eq. 9), dilated encoder,
paper-size presets against Table 10."""

from pathlib import Path

import pytest
import torch

from kpdet.config import load_config
from kpdet.errors import ConfigError
from kpdet.methods import get_method
from kpdet.methods.topdown.config import TopDownConfig
from kpdet.methods.topdown.model import build_net
from kpdet.nn.context_mixer import CascadedContextMixer
from kpdet.nn.deconv import DeconvHead
from kpdet.schema import COCO17

ROOT = Path(__file__).resolve().parents[3]
SMALL = {"name": "topdown", "backbone": "resnet18", "input_size": [64, 32], "deconv_channels": [16, 16, 16],
         "sigma": 1.0, "decoder": {"flip_test": False}}
CCM = {"type": "ccm", "cm_channels": [16, 16, 16]}


def _method(**overrides):
    return get_method("topdown").from_config({**SMALL, **overrides}, {1: COCO17})


def test_default_head_is_still_the_deconvolution_head():
    assert TopDownConfig().head.type == "deconv"
    assert isinstance(_method(backbone="resnet10t").net.head, DeconvHead)
    assert isinstance(_method(backbone="resnet10t", head=CCM).net.head, CascadedContextMixer)


def test_aux_decoder_trains_with_weight_lambda_and_is_skipped_at_test():
    torch.manual_seed(0)
    m = _method(head={**CCM, "aux_decoder": True, "aux_weight": 0.3})
    x = torch.rand(2, 3, 64, 32)
    m.train()
    out = m(x)
    assert out["heatmaps"].shape == out["aux_heatmaps"].shape == (2, 17, 16, 8)
    targets = {"heatmap": torch.rand(2, 17, 16, 8), "weight": torch.ones(2, 17), "mask": torch.ones(2, 17)}
    terms = m.loss(out, targets)
    assert set(terms) == {"heatmap", "aux_heatmap"}
    plain = m.loss({"heatmaps": out["aux_heatmaps"]}, targets)["heatmap"]
    assert torch.allclose(terms["aux_heatmap"], 0.3 * plain)  # Eq. 9: λ·L_aux
    sum(terms.values()).backward()
    assert m.net.aux_final.weight.grad.abs().sum() > 0
    m.eval()
    assert set(m(x)) == {"heatmaps"}


def test_dilated_encoder_doubles_the_heatmap_resolution():
    m = _method(heatmap_stride=2, head={**CCM, "dilated_encoder": True, "aux_decoder": True})
    m.train()
    out = m(torch.rand(2, 3, 64, 32))
    assert out["heatmaps"].shape[-2:] == (32, 16) and out["aux_heatmaps"].shape[-2:] == (32, 16)
    assert m.net.backbone.reductions == [16, 16]


def test_stride_mismatch_is_a_config_error():
    with pytest.raises(ConfigError, match="heatmap stride"):
        _method(head={**CCM, "cm_channels": [16, 16]})
    with pytest.raises(ConfigError, match="aux_decoder needs"):
        _method(head={"aux_decoder": True})


# Table 10 (#Params at the preset's input size; 17 keypoints)
TABLE10 = {"ccm_res50_256x192": 40.7, "ccm_resnext50_256x192": 40.1, "ccm_res152_384x288": 63.5,
           "ccm_hrnet_w32_256x192": 28.6, "ccm_hrnet_w48_384x288": 63.7, "ccm_mobilenetv2_256x192": 10.1,
           "ccm_shufflenetv2_256x192": 9.72}


@pytest.mark.parametrize("preset", sorted(TABLE10))
def test_paper_presets_match_table10_parameter_counts(preset):
    cfg = load_config(ROOT / "configs" / "topdown" / f"{preset}.yaml", resolve_paths=False).method
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        net = build_net(cfg, 17)
    params = sum(p.numel() for p in net.parameters()) / 1e6
    assert abs(params / TABLE10[preset] - 1) < 0.10, f"{preset}: {params:.2f}M vs Table 10 {TABLE10[preset]}M"
