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
