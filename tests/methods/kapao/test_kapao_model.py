"""KAPAO network sizes and output layout."""

import pytest
import torch

from kpdet.methods.kapao.layout import ClassLayout
from kpdet.methods.kapao.model import KapaoNet
from kpdet.schema import COCO17, KeypointSchema


@pytest.mark.parametrize("width, depth, official", [(0.50, 0.33, 12.6e6), (0.75, 0.67, 35.8e6), (1.0, 1.0, 77.0e6)],
                         ids=["S", "M", "L"])
def test_paper_sizes_match_official_parameter_counts(width, depth, official):
    layout = ClassLayout.from_schemas({1: COCO17})
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        net = KapaoNet(width, depth, 3, layout.num_outputs, layout.num_classes, 1280, (0, 0, 0), (1, 1, 1))
    n = sum(p.numel() for p in net.parameters())
    assert abs(n / official - 1) < 0.05, n


def test_outputs_per_anchor_is_3k_plus_6_and_follows_the_schema():
    assert ClassLayout.from_schemas({1: COCO17}).num_outputs == 3 * 17 + 6
    five = KeypointSchema("hand", tuple(f"p{i}" for i in range(5)))
    assert ClassLayout.from_schemas({3: five}).num_outputs == 3 * 5 + 6
    two = ClassLayout.from_schemas({1: COCO17, 2: five})
    assert two.num_classes == 2 + 17 + 5 and two.kp_offsets == (2, 19)
    assert two.num_outputs == 5 + 24 + 2 * 17


def test_four_grids_at_strides_8_to_64_rectangular_input():
    layout = ClassLayout.from_schemas({1: COCO17})
    net = KapaoNet(0.125, 0.33, 3, layout.num_outputs, layout.num_classes, 256, (0, 0, 0), (1, 1, 1)).eval()
    with torch.no_grad():
        grids = net(torch.zeros(1, 3, 128, 192))
    assert [tuple(g.shape) for g in grids] == [(1, 3, 128 // s, 192 // s, 57) for s in (8, 16, 32, 64)]
