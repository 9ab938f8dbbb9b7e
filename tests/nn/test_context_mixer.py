import pytest
import torch
from torch.nn import functional as F

from kpdet.nn.context_mixer import CascadedContextMixer, ContextMixer


def test_context_mixer_shapes_and_eq4():
    torch.manual_seed(0)
    cm = ContextMixer(24, 16).eval()
    for p in cm.parameters():  # non-trivial weights (the paper's init is near zero)
        torch.nn.init.normal_(p, std=0.2)
    f = torch.randn(2, 24, 6, 5)
    out = cm(f)
    assert out.shape == (2, 16, 12, 10)
    res = cm.res(F.interpolate(f, scale_factor=2.0, mode="bilinear", align_corners=False))  # Eq. 1
    alpha = torch.sigmoid(cm.se[3](F.relu(cm.se[1](f.mean((2, 3), keepdim=True)))))  # Eq. 2
    hdc = cm.hdc(torch.cat([b(f) for b in cm.dilated], 1))  # Eq. 3
    assert torch.allclose(out, F.relu(hdc * alpha + res), atol=1e-5)  # Eq. 4
    assert [b[0].dilation for b in cm.dilated] == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert all(b[0].out_channels == 4 for b in cm.dilated)  # C/4 each
    assert cm.se[1].out_channels == 4  # SE bottleneck C/4


def test_context_mixer_parameter_count_by_hand():
    cin, c = 64, 32
    cm = ContextMixer(cin, c)
    expect = (cin * c + 2 * c  # RES 1×1 + BN
              + cin * c // 4 + c // 4 + c // 4 * c + c  # SE 1×1 → C/4 → C (with biases)
              + 4 * (9 * cin * c // 4 + 2 * c // 4)  # 4 dilated 3×3 + BN
              + 16 * c * c + 2 * c)  # deconv 4×4 + BN
    assert sum(p.numel() for p in cm.parameters()) == expect


def test_cascade_resolution_and_no_upsample_variant():
    ccm = CascadedContextMixer(32, [16, 16, 8], [True, False, True])
    assert ccm.scale == 4 and ccm.out_channels == 8
    assert ccm(torch.randn(1, 32, 4, 3)).shape == (1, 8, 16, 12)
    with pytest.raises(ValueError, match="up-sampling flags"):
        CascadedContextMixer(32, [16, 16], [True])
    with pytest.raises(ValueError, match="divisible"):
        ContextMixer(8, 10)
