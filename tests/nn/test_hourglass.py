import pytest
import torch

from kpdet.nn.hourglass import Hourglass, Residual, Stem


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_stem_stride_and_hourglass_keeps_shape(stride):
    x = torch.rand(1, 3, 32, 32)
    f = Stem(8, stride)(x)
    assert f.shape == (1, 8, 32 // stride, 32 // stride)
    assert Hourglass(2, 8)(f).shape == f.shape


def test_hourglass_mixes_across_the_whole_map():
    torch.manual_seed(0)
    hg = Hourglass(3, 4).eval()
    x = torch.rand(1, 4, 16, 16, requires_grad=True)
    hg(x)[0, :, 0, 0].sum().backward()
    assert x.grad[0, :, 15, 15].abs().sum() > 0  # the far corner reaches the output through the bottleneck
    assert Residual(4, 6)(torch.rand(1, 4, 5, 5)).shape == (1, 6, 5, 5)
    with pytest.raises(ValueError):
        Stem(8, 3)
