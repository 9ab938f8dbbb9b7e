import torch
from torchvision.ops import complete_box_iou

from kpdet.losses.iou import ciou_loss, complete_iou
from kpdet.ops.boxes import cxcywh_to_xyxy, elementwise_iou, xyxy_to_cxcywh


def test_complete_iou_matches_torchvision():
    g = torch.Generator().manual_seed(0)
    a = torch.cat([torch.rand(20, 2, generator=g) * 50, torch.rand(20, 2, generator=g) * 30 + 1], 1)
    b = a + torch.randn(20, 4, generator=g) * torch.tensor([5, 5, 2, 2])
    b[:, 2:] = b[:, 2:].clamp_min(0.5)
    ours = complete_iou(a, b)
    ref = complete_box_iou(cxcywh_to_xyxy(a), cxcywh_to_xyxy(b)).diagonal()
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_identical_boxes_have_zero_loss_and_disjoint_ones_a_penalty():
    a = torch.tensor([[10.0, 10, 4, 6]])
    assert ciou_loss(a, a) < 1e-6
    far = torch.tensor([[40.0, 40, 4, 6]])
    assert ciou_loss(a, far) > 1.0
    assert ciou_loss(a[:0], a[:0]) == 0


def test_box_conversions_and_iou():
    b = torch.tensor([[0.0, 0, 4, 4], [2, 2, 6, 6]])
    torch.testing.assert_close(cxcywh_to_xyxy(xyxy_to_cxcywh(b)), b)
    assert elementwise_iou(b[:1], b[1:]).item() == torch.tensor(4 / 28).item()
