"""The fast, batched KAPAO decoder gives the predictions of a straightforward one (reference_decode)
on random outputs, and its confidence pre-filter changes nothing."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kpdet.methods.kapao import decode as D
from kpdet.methods.kapao.config import KapaoConfig
from kpdet.methods.kapao.method import Kapao
from kpdet.nn.csp_pan import STRIDES
from kpdet.schema import KeypointSchema

sys.path.insert(0, str(Path(__file__).parent))
from reference_decode import reference_predictions  # noqa: E402

SCHEMAS = {1: KeypointSchema("thing", ("nose", "left_eye", "right_eye"), flip_pairs=((1, 2),)),
           4: KeypointSchema("stick", ("top", "bottom"))}


def _method(size=128, **inference):
    inference = {"fusion_distance": 0.2, "conf_kp": 0.3, "max_det": 40, **inference}
    cfg = KapaoConfig(input_size=size, width_multiple=0.125, depth_multiple=0.33, inference=inference)
    torch.manual_seed(0)
    return Kapao(cfg, SCHEMAS).eval()


def _grids(method, batch, seed, size=128):
    """Random logits: sparse confident objects over a low-confidence background."""
    g = torch.Generator().manual_seed(seed)
    no, nc = method.layout.num_outputs, method.layout.num_classes
    grids = []
    for s in STRIDES:
        x = torch.randn(batch, 3, size // s, size // s, no, generator=g) * 1.5
        x[..., 4] = torch.randn(x.shape[:-1], generator=g) * 2.5 - 3  # objectness
        x[..., 5: 5 + nc] = torch.randn(x.shape[:-1] + (nc,), generator=g) * 3 - 1
        grids.append(x)
    return grids


def _meta(batch):
    return [{"image_id": 10 + b, "input_to_image": np.array([[0.5 + b, 0.1, 3.0], [-0.2, 0.75, -1.0]])}
            for b in range(batch)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fusion", [True, False])
def test_fast_decode_gives_the_reference_predictions(seed, fusion):
    method = _method()
    grids, meta = _grids(method, 3, seed), _meta(3)
    fast = method.decode(grids, meta, fusion=fusion)
    inf = method.cfg.inference
    ref = reference_predictions(grids, method.anchors, method.layout, inf, inf.fusion_distance * 128, meta, fusion)
    assert len(fast) == len(ref) > 10
    key = lambda p: (p[0], -p[3])  # noqa: E731  image, then score
    fast = sorted(((p.image_id, p.category_id, p.keypoints, p.score, p.bbox) for p in fast), key=key)
    for f, r in zip(fast, sorted(ref, key=key)):
        assert f[:2] == r[:2] and f[3] == pytest.approx(r[3], abs=1e-7)
        np.testing.assert_allclose(f[4], r[4], atol=1e-3)
        np.testing.assert_allclose(f[2][:, :2], r[2][:, :2], atol=1e-3)
        np.testing.assert_allclose(f[2][:, 2], r[2][:, 2], atol=1e-7)
    fused = sum(int((p[2][:, 2] > 0).sum()) for p in fast)
    assert (fused > 5) == fusion  # the case exercises Algorithm 1


def test_prefilter_keeps_every_candidate_that_passes_a_threshold():
    method = _method(conf_pose=0.05, conf_kp=0.4)
    grids = _grids(method, 2, 5)
    everything = D.raw_candidates(grids, method.anchors, method.layout.num_classes)
    conf = (everything["obj"][:, None] * everything["cls"]).amax(-1)
    for fusion in (True, False):
        some = method.candidates(grids, fusion)
        assert 0 < int((conf > D.min_confidence(method.cfg.inference, fusion)).sum()) <= len(some["obj"]) < len(conf)
        a, b = method.detections(everything, fusion), method.detections(some, fusion)
        assert len(a.score) > 0 and a.num_fused == b.num_fused
        for k in ("image", "pose_class", "score", "box", "keypoints"):
            assert torch.equal(getattr(a, k), getattr(b, k)), k


def test_a_candidate_just_above_the_threshold_survives_the_prefilter():
    method = _method(conf_pose=0.3, fusion=False)
    grids = [torch.full((1, 3, 128 // s, 128 // s, method.layout.num_outputs), -30.0) for s in STRIDES]
    logit = torch.logit(torch.tensor(0.3))
    while torch.sigmoid(logit) <= 0.3:  # the smallest float32 logit whose σ passes τcp
        logit = torch.nextafter(logit, torch.tensor(1.0))
    grids[1][0, 1, 3, 4, 4] = 30.0  # σ = 1: confidence = σ(class logit)
    grids[1][0, 1, 3, 4, 5] = logit
    dets = method.detections(method.candidates(grids))
    assert dets.score.tolist() == [torch.sigmoid(logit).item()]


def test_tta_with_the_prefilter_equals_tta_without(monkeypatch):
    method = _method(size=64, tta=True, conf_pose=0.0001)
    images, meta = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)), _meta(2)
    fast = method.predict_batch(images, meta)
    monkeypatch.setattr("kpdet.methods.kapao.method.min_confidence", lambda cfg, fusion=None: None)
    full = method.predict_batch(images, meta)
    assert len(fast) == len(full) > 0
    for f, r in zip(fast, full):
        assert (f.image_id, f.category_id, f.score) == (r.image_id, r.category_id, r.score)
        assert np.array_equal(f.keypoints, r.keypoints) and np.array_equal(f.bbox, r.bbox)


def test_grids_in_any_memory_layout_decode_the_same():
    method = _method()
    grids, meta = _grids(method, 2, 3), _meta(2)
    planar = [g.permute(0, 1, 4, 2, 3).contiguous().permute(0, 1, 3, 4, 2) for g in grids]  # channel-major
    assert not planar[0].is_contiguous()
    a, b = method.decode(grids, meta), method.decode(planar, meta)
    assert len(a) == len(b) > 0
    assert all(p.score == q.score and np.array_equal(p.keypoints, q.keypoints) for p, q in zip(a, b))
