"""KLPNet pieces: crop geometry, detector coding, heatmap targets, identity, CLPGM, LIS, the method."""

import numpy as np
import pytest
import torch

from kpdet.losses.iou import ciou
from kpdet.methods.klpnet.cklm import (Cklm, cells_to_image, crop, heat_targets, image_to_cells, kernel_sigma,
                                       square_rois)
from kpdet.methods.klpnet.clpgm import Clpgm, link_loss
from kpdet.methods.klpnet.config import KlpNetConfig, LisConfig
from kpdet.methods.klpnet.detector import assign, decode_boxes, detect
from kpdet.methods.klpnet.identity import Prototypes, assign_peaks
from kpdet.methods.klpnet.lis import LocationInstability
from kpdet.nn.fpn import PathAggregationFPN
from kpdet.schema import KeypointSchema


def test_ciou_identical_zero_and_disjoint_penalised():
    a = torch.tensor([[10.0, 10, 30, 50]])
    assert (1 - ciou(a, a)).item() == pytest.approx(0, abs=1e-6)
    b = torch.tensor([[40.0, 60, 60, 100]])
    assert ciou(a, b).item() < 0  # IoU 0 minus centre-distance penalty
    p = a.clone().requires_grad_()
    (1 - ciou(p, b)).sum().backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_fpn_levels_and_shapes():
    fpn = PathAggregationFPN([16, 32, 64], 24, extra_levels=2)
    feats = [torch.randn(2, c, 32 // 2 ** i, 32 // 2 ** i) for i, c in enumerate([16, 32, 64])]
    out = fpn(feats)
    assert [o.shape[-1] for o in out] == [32, 16, 8, 4, 2] and all(o.shape[1] == 24 for o in out)


def test_crop_geometry_round_trip_and_dot_lands_on_its_cell():
    img = torch.zeros(1, 3, 64, 64)
    img[0, :, 20, 37] = 1.0  # a dot at x = 37, y = 20
    rois = square_rois(torch.tensor([[21.5, 4.5, 53.5, 36.5]]), 1.0)  # 32-px square, 1 px per crop pixel
    c = crop(img, torch.zeros(1), rois, 32)
    yy, xx = np.unravel_index(int(c[0, 0].argmax()), c.shape[-2:])
    uv = image_to_cells(torch.tensor([[[37.0, 20.0]]]), rois, 32, 1)
    assert (xx, yy) == tuple(uv[0, 0].round().long().tolist())
    xy = torch.rand(3, 5, 2) * 60
    r = square_rois(torch.tensor([[0.0, 0, 40, 30], [5, 5, 20, 50], [10, 0, 60, 60]]), 1.2)
    back = cells_to_image(image_to_cells(xy, r, 48, 2), r, 48, 2)
    assert torch.allclose(back, xy, atol=1e-4)


def test_assign_then_decode_recovers_the_box():
    anchors = torch.tensor([[2.0, 2.0]])
    box = torch.tensor([[[30.0, 40.0, 50.0, 56.0]]])  # centre (40, 48), 20 × 16
    b, a, v, u, n = assign(box, torch.tensor([[True]]), 8.0, anchors, (16, 16), 4.0)
    assert len(b) == 3  # the nearest cell and two neighbours
    # the raw output that codes the box exactly at the nearest cell
    cx, cy, w, h = 40.0, 48.0, 20.0, 16.0
    u0, v0 = int(u[0]), int(v[0])
    sx = ((cx - 3.5) / 8 - u0 + 1) / 2
    sy = ((cy - 3.5) / 8 - v0 + 1) / 2
    sw, sh = (w / 16) ** 0.5 / 2, (h / 16) ** 0.5 / 2
    raw = torch.full((1, 1, 16, 16, 6), -10.0)
    logit = lambda s: float(np.log(s / (1 - s)))  # noqa: E731
    raw[0, 0, v0, u0, :4] = torch.tensor([logit(sx), logit(sy), logit(sw), logit(sh)])
    raw[0, 0, v0, u0, 4:] = 10.0
    assert torch.allclose(decode_boxes(raw, 8.0, anchors)[0, 0, v0, u0], box[0, 0], atol=1e-3)
    boxes, scores, cls = detect([raw], [8.0], anchors, score_threshold=0.5, nms_iou=0.5, max_detections=5)[0]
    assert len(boxes) == 1 and torch.allclose(boxes[0], box[0, 0], atol=1e-3) and int(cls[0]) == 0


def test_heat_targets_peak_and_offsets():
    uv = torch.tensor([[[5.25, 7.5], [12.0, 3.0]]])
    heat, off, dist = heat_targets(uv, torch.tensor([[True, True]]), (16, 16), kernel_sigma(7))
    assert heat[0, 3, 12] == pytest.approx(1.0) and heat.max() <= 1
    assert off[0, :, 7, 5].tolist() == pytest.approx([0.25, 0.5])
    assert kernel_sigma(7) > kernel_sigma(5) > kernel_sigma(3)


def test_cklm_shapes_for_each_stage_count():
    for stages in (1, 3):
        for cross in (True, False):
            net = Cklm(stages, [8, 16, 16], 2, 6, cross)
            out = net(torch.randn(2, 3, 32, 32))
            assert out["heat"].shape == (2, stages, 16, 16) and out["offsets"].shape == (2, stages, 2, 16, 16)
            assert torch.allclose(out["embed"].norm(dim=1), torch.ones(2, 16, 16), atol=1e-5)


def test_identity_loss_masks_missing_keypoints_and_hungarian_is_one_to_one():
    protos = Prototypes([3, 5], 4, 0.1)
    feats = torch.nn.functional.normalize(torch.randn(2, 5, 4), dim=-1)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    assert torch.isfinite(protos.loss(feats, torch.tensor([0, 1]), mask))
    cost = np.array([[[0.0, 5, 5], [5, 0, 5], [0.1, 5, 5], [5, 5, 0]]])  # 4 peaks, 3 identities
    out = assign_peaks(cost, np.array([3]), np.array([[True, True, True, True]]))
    assert out[0].tolist() == [0, 1, 3]


def test_clpgm_learns_a_skeleton():
    torch.manual_seed(0)
    g = Clpgm(4, 2, 16, 8, 2)
    skel = torch.zeros(2, 4, 4)
    for a, b in ((0, 1), (1, 2), (2, 3)):
        skel[0, a, b] = skel[0, b, a] = 1
    skel[1, 0, 1] = skel[1, 1, 0] = skel[1, 0, 2] = skel[1, 2, 0] = 1
    feats = torch.nn.functional.normalize(torch.eye(4)[None].repeat(2, 1, 1), dim=-1)
    pos = torch.rand(2, 4, 2) - 0.5
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    cats = torch.tensor([0, 1])
    a = g.adjacency(pos, mask)
    assert torch.allclose(a, a.transpose(1, 2)) and a[1, 3].abs().sum() == 0
    opt = torch.optim.Adam(g.parameters(), 2e-2)
    for _ in range(300):
        out = g(feats, pos, mask, cats, sample=True)
        terms = link_loss(out, skel[cats], mask, cats)
        opt.zero_grad()
        (terms["recon"] + 0.01 * terms["kl"] + terms["category"]).backward()
        opt.step()
    p = g(feats, pos, mask, cats, sample=False)["logits"].sigmoid()
    pairs = mask[:, :, None] & mask[:, None] & ~torch.eye(4, dtype=torch.bool)
    assert ((p > 0.5) == skel[cats].bool())[pairs].all(), p


def test_lis_hands_the_overlap_peaks_to_the_right_object():
    """Two same-category objects side by side; both crops' matching gave identity 1 of object 0 to
    object 1's peak. LIS assigns the overlap peaks by identity probability and distance to fixed nodes."""
    boxes = torch.tensor([[0.0, 0, 60, 40], [40.0, 0, 100, 40]])
    rois = square_rois(boxes, 1.0)
    kc = 2
    xy = torch.tensor([[[5.0, 20.0], [55.0, 20.0]], [[52.0, 20.0], [95.0, 20.0]]])  # obj 0's point 1 is obj 1's
    score = torch.tensor([[0.9, 0.4], [0.4, 0.9]])
    peaks = torch.tensor([[[5.0, 20.0], [45.0, 20.0], [52.0, 20.0]], [[95.0, 20.0], [45.0, 20.0], [52.0, 20.0]]])
    pscore = torch.tensor([[0.9, 0.8, 0.8], [0.9, 0.8, 0.8]])
    # identity probabilities: the peak at 45 looks like identity 1 (right end), the one at 52 like identity 0
    lp = torch.log(torch.tensor([[[0.9, 0.1], [0.2, 0.8], [0.8, 0.2]]] * 2))
    loc = {"xy": xy, "score": score, "peaks_xy": peaks, "peaks_score": pscore, "peaks_lp": lp}
    mean_dist = torch.zeros(1, kc, kc)
    mean_dist[0, 0, 1] = mean_dist[0, 1, 0] = 40 / 60  # the category's two points are ~40 px apart
    lis = LocationInstability(LisConfig(fixed_score=0.5))
    new_xy, _ = lis(torch.zeros(2, dtype=torch.long), boxes, torch.ones(2), rois, torch.zeros(2, dtype=torch.long),
                    loc, mean_dist, torch.tensor([kc]))
    assert new_xy[0, 1].tolist() == [45.0, 20.0]  # object 0's right end
    assert new_xy[1, 0].tolist() == [52.0, 20.0]  # object 1's left end
    assert new_xy[0, 0].tolist() == [5.0, 20.0] and new_xy[1, 1].tolist() == [95.0, 20.0]  # fixed nodes stay


def _schemas():
    return {3: KeypointSchema("box", tuple(f"k{i}" for i in range(8)), ((0, 1), (1, 2), (2, 3)), (), (0.06,) * 8),
            7: KeypointSchema("lamp", ("a", "b", "c", "d"), ((0, 1), (1, 2)), (), (0.06,) * 4)}


def _tiny_cfg():
    return KlpNetConfig.model_validate({
        "input_size": 64, "max_objects": 4,
        "detector": {"backbone": "resnet18", "channels": 16, "extra_levels": 1, "max_detections": 3},
        "cklm": {"stages": 2, "crop_size": 32, "widths": [8, 16, 16], "embed_dim": 8}})


def test_method_loss_backward_decode_with_two_keypoint_sets():
    from kpdet.methods.klpnet.method import KlpNet

    torch.manual_seed(0)
    m = KlpNet(_tiny_cfg(), _schemas())
    kps = torch.zeros(2, 4, 8, 3)
    kps[:, 0, :, :2] = torch.rand(2, 8, 2) * 20 + 10
    kps[:, 0, :, 2] = 2
    kps[:, 1, :4, :2] = torch.rand(2, 4, 2) * 20 + 30
    kps[:, 1, :4, 2] = 2
    targets = {"boxes": torch.tensor([[[8.0, 8, 32, 32], [28, 28, 52, 52]] + [[0, 0, 0, 0]] * 2] * 2),
               "classes": torch.tensor([[0, 1, 0, 0]] * 2), "keypoints": kps,
               "valid": torch.tensor([[True, True, False, False]] * 2)}
    m.train()
    out = m(torch.rand(2, 3, 64, 64))
    terms = m.loss(out, targets)
    assert set(terms) == {"box", "obj", "cls", "heatmap", "offset", "identity", "link"}
    sum(terms.values()).backward()
    assert m.cklm.stem[0].weight.grad.abs().sum() > 0 and m.clpgm.mu.weight.grad.abs().sum() > 0
    assert m.mean_dist_seen.sum() > 0
    m.eval()
    preds = m.decode(m(torch.rand(2, 3, 64, 64)), [{"image_id": 1, "scale": 0.5}, {"image_id": 2, "scale": 0.5}])
    assert preds and {p.image_id for p in preds} <= {1, 2}
    for p in preds:
        k = 8 if p.category_id == 3 else 4
        assert p.keypoints.shape == (k, 3) and p.bbox.shape == (4,)
        assert p.links.shape[1] == 3 and (p.links[:, :2] < k).all() and (p.links[:, 0] < p.links[:, 1]).all()


def test_paper_preset_parameter_count():
    """ResNeXt-101 (32×4d) DPAD + CKLM: the backbone alone is ~42M (timm), the whole model below 80M."""
    from kpdet.config import load_config
    from kpdet.methods.klpnet.method import KlpNet
    from pathlib import Path

    cfg = load_config(Path(__file__).parents[3] / "configs/klpnet/resnext101.yaml", resolve_paths=False)
    m = KlpNet(cfg.method, _schemas())
    backbone = sum(p.numel() for p in m.backbone.parameters()) / 1e6
    total = sum(p.numel() for p in m.parameters()) / 1e6
    assert 40 < backbone < 45 and backbone < total < 80, (backbone, total)


def test_dataset_letterbox_and_flip_keep_keypoints_on_their_pixels(tiny_coco):
    from kpdet.data.coco import load_coco
    from kpdet.methods.klpnet.method import KlpNet
    from kpdet.schema import COCO17

    coco = load_coco(tiny_coco(n_images=1, schema=COCO17, size=(48, 40), instances=1))
    m = KlpNet(_tiny_cfg(), coco.schemas)
    img, t, meta = m.build_dataset(coco, train=False)[0]
    assert img.shape == (3, 64, 64) and meta["scale"] == pytest.approx(64 / 48)
    kp = coco.instances(meta["image_id"]).keypoints[0]
    s = meta["scale"]
    assert np.allclose(t["keypoints"][0, :, :2], np.where(kp[:, 2:] > 0, s * (kp[:, :2] + 0.5) - 0.5, 0), atol=1e-4)
    assert t["valid"].tolist() == [True, False, False, False]
    ds = m.build_dataset(coco, train=True)
    ds.flip_prob = 1.0
    img_f, t_f, _ = ds[0]
    assert torch.equal(img_f, img.flip(-1))
    fi = COCO17.flip_index
    lab = kp[:, 2] > 0
    assert np.allclose(t_f["keypoints"][0, fi, 0][lab], 63 - t["keypoints"][0, :, 0][lab], atol=1e-4)
