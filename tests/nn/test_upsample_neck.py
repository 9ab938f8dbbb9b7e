import pytest
import torch

from kpdet.nn.upsample_neck import UpsampleNeck

CHANNELS, REDUCTIONS = [8, 16, 32, 64], [4, 8, 16, 32]


def _features(b=2, size=64):
    return [torch.randn(b, c, size // r, size // r) for c, r in zip(CHANNELS, REDUCTIONS)]


@pytest.mark.parametrize("mode", ["add", "concat"])
@pytest.mark.parametrize("stride", [2, 4, 8, 32])
def test_output_stride_and_width(mode, stride):
    neck = UpsampleNeck(CHANNELS, REDUCTIONS, stride, width=12, mode=mode)
    out = neck(_features())
    width = 12 if stride < 32 or mode == "add" else CHANNELS[-1]
    assert out.shape == (2, width, 64 // stride, 64 // stride)


def test_skips_feed_the_output():
    torch.manual_seed(0)
    neck = UpsampleNeck(CHANNELS, REDUCTIONS, 4, width=12, mode="concat").eval()
    feats = _features()
    base = neck(feats)
    feats[0] = feats[0] + 1.0  # the stride-4 skip
    assert not torch.allclose(base, neck(feats))


def test_bad_stride_is_an_error():
    with pytest.raises(ValueError, match="out_stride"):
        UpsampleNeck(CHANNELS, REDUCTIONS, 12, width=8)
