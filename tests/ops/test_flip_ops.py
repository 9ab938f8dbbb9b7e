import math

import torch

from kpdet.ops.flip import flip_maps, shift_x


def test_flip_maps_twice_is_identity_and_swaps_channels():
    h = torch.rand(2, 3, 4, 5)
    idx = torch.tensor([0, 2, 1])
    once = flip_maps(h, idx)
    assert torch.equal(once[:, 1], h[:, 2].flip(-1))
    assert torch.equal(flip_maps(once, idx), h)


def test_shift_x_integer_and_fractional():
    h = torch.arange(5.0).view(1, 1, 1, 5)
    assert shift_x(h, 1.0).flatten().tolist() == [0, 0, 1, 2, 3]
    assert torch.allclose(shift_x(h, 0.5).flatten(), torch.tensor([0, 0.5, 1.5, 2.5, 3.5]))
    assert torch.equal(shift_x(h, 0.0), h)


def test_shift_x_matches_clamped_interpolation_for_any_shift():
    h = torch.rand(2, 3, 4, 7)
    j = torch.arange(7)
    for shift in [0.05, 0.5, 1.3, -0.4, -1.7, 2.25, 6.5, -6.5, 9.1, -8.2, 3.0, -2.0]:
        n = math.floor(shift)
        frac = shift - n
        expect = (1 - frac) * h[..., (j - n).clamp(0, 6)] + frac * h[..., (j - n - 1).clamp(0, 6)]
        assert torch.allclose(shift_x(h, shift), expect, atol=1e-6), shift
