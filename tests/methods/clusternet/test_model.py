import numpy as np
import pytest
import torch

from kpdet.config import load_config
from kpdet.errors import ConfigError
from kpdet.methods import get_method
from kpdet.schema import COCO17, KeypointSchema

TINY = {"name": "clusternet", "input_size": [32, 32], "stem_stride": 2, "channels": 8, "hourglass_depth": 2,
        "num_stacks": 3, "dense_clusters": [1, 3, 1], "sparse_clusters": [5, 3, 17]}


def build(**kw):
    return get_method("clusternet").from_config({**TINY, **kw}, {1: COCO17})


def test_outputs_every_stack_and_branch():
    m = build()
    out = m(torch.rand(2, 3, 32, 32))
    assert [t.shape[1] for t in out["sparse_heatmaps"]] == [5, 3, 17]
    assert [t.shape[1] for t in out["dense_heatmaps"]] == [1, 3, 1]
    assert out["sparse_tags"][2].shape == (2, 17, 16, 16)
    plain = build(dense_clusters=None, sparse_clusters=[17, 17, 17], in_branch=False, cross_branch=False)
    assert set(plain(torch.rand(1, 3, 32, 32))) == {"sparse_heatmaps", "sparse_tags"}


def test_cross_branch_alignment_stays_grouped():
    m = build()
    conv = m.net.stacks[0].align_pred  # sparse 5 → dense 1: all connected
    assert conv.mask.sum() == 5
    conv = m.net.stacks[1].align_pred  # sparse 3 → dense 3: diagonal
    assert torch.equal(conv.mask[..., 0, 0], torch.eye(3))
    out = m(torch.rand(1, 3, 32, 32))
    sum(v.sum() for vs in out.values() for v in vs).backward()
    assert (conv.weight.grad[..., 0, 0] * (1 - torch.eye(3))).abs().sum() == 0


def test_aggregation_switches_change_the_network():
    both = sum(p.numel() for p in build().parameters())
    no_in = sum(p.numel() for p in build(in_branch=False).parameters())
    no_cross = sum(p.numel() for p in build(cross_branch=False).parameters())
    assert both - no_in == 3 * 2 * (16 * 8 + 8)  # one 2C→C 1×1 conv per branch and stack
    assert both - no_cross == 3 * (8 * 8 + 8) + (5 + 1) + (3 * 3 + 3) + (17 + 1)


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="one cluster per keypoint"):
        build(sparse_clusters=[5, 3, 5])
    with pytest.raises(ConfigError, match="cannot split"):
        build(dense_clusters=[1, 30, 1])
    two = {1: COCO17, 2: KeypointSchema("cat", ("a", "b"))}
    with pytest.raises(ConfigError, match="one category"):
        get_method("clusternet").from_config(TINY, two)
    with pytest.raises(Exception, match="one per stack"):
        build(dense_clusters=[1, 3])


def test_any_schema_gets_clusters():
    schema = KeypointSchema("fly", tuple(f"p{i}" for i in range(13)))
    m = get_method("clusternet").from_config({**TINY, "sparse_clusters": [4, 5, 13]}, {1: schema})
    assert [c.sizes for c in m.sparse] == [[3, 3, 3, 4], [2, 2, 3, 3, 3], [1] * 13]


def test_paper_size_parameter_count():
    # The paper gives no parameter count; the backbone is Newell's hourglass (constant 256 channels,
    # 4 halvings): 2,785,536 parameters per hourglass module, ~15.4 M for the whole network.
    cfg = load_config("configs/clusternet/hourglass4_512.yaml", resolve_paths=False)
    m = get_method("clusternet").from_config(cfg.method, {1: COCO17})
    assert [sum(p.numel() for p in s.hourglass.parameters()) for s in m.net.stacks] == [2785536] * 4
    assert sum(p.numel() for p in m.parameters()) == pytest.approx(15.41e6, rel=0.01)
    assert [c.sizes for c in m.dense][3] == [5, 6, 6] and [c.sizes for c in m.sparse][0] == [3, 3, 3, 4, 4]


def test_flip_test_prediction_is_mirror_consistent():
    torch.manual_seed(0)
    m = build(decoder={"flip_test": True, "min_instances": 1}).eval()
    last = m.net.stacks[-1].sparse
    torch.nn.init.normal_(last.det_out.weight, std=1.0)  # distinct peaks instead of a near-constant map
    torch.nn.init.normal_(last.tag_out.weight, std=1.0)
    x = torch.rand(1, 3, 32, 32)
    meta = [{"image_id": 1, "input_to_image": np.array([[1.0, 0, 0], [0, 1.0, 0]])}]
    a = m.predict_batch(x, meta)
    mirror = [{"image_id": 1, "input_to_image": np.array([[-1.0, 0, 31.0], [0, 1.0, 0]])}]
    b = m.predict_batch(x.flip(-1), mirror)
    assert len(a) == len(b) >= 1
    assert np.allclose(a[0].keypoints[:, :2], b[0].keypoints[COCO17.flip_index, :2], atol=1e-3)


def test_multi_scale_test_averages_at_the_base_map_size():
    torch.manual_seed(0)
    m = build(decoder={"flip_test": True, "test_scales": [1.0, 0.5], "min_instances": 2}).eval()
    meta = [{"image_id": 3, "input_to_image": np.array([[2.0, 0, 0], [0, 2.0, 0]])}]
    preds = m.predict_batch(torch.rand(1, 3, 32, 32), meta)
    assert len(preds) == 2 and all(p.keypoints.shape == (17, 3) for p in preds)
    assert all(np.all((p.keypoints[:, :2] >= -1) & (p.keypoints[:, :2] <= 64)) for p in preds)
