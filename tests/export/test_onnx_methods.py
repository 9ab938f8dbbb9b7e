"""Every registered method: export → ONNX Runtime outputs match PyTorch (≤ 1e-4) → the ONNX
predictor's decoded keypoints match PyTorch's within 0.01 px. Tiny presets at small sizes,
random init; a new method is covered the moment it registers."""

import numpy as np
import pytest
import torch

from kpdet.data.coco import load_coco
from kpdet.export.onnx_export import INPUT, export_onnx
from kpdet.export.runtime import load_onnx, session_for
from kpdet.methods import method_names
from kpdet.schema import COCO17

OUTPUT_TOL, KEYPOINT_TOL = 1e-4, 0.01


def batch(method, coco, n):
    ds = method.build_dataset(coco, train=False)
    return method.collate([ds[i] for i in range(min(n, len(ds)))])


def ort_outputs(path, images):
    session = session_for(path)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {INPUT: images.numpy()})))


@pytest.mark.parametrize("name", method_names())
def test_export_matches_pytorch_outputs_and_decoded_keypoints(name, tiny_method, tiny_coco, tmp_path):
    coco = load_coco(tiny_coco(n_images=3, schema=COCO17, size=(96, 80), instances=2))
    method, _ = tiny_method(name, coco.schemas)
    path = export_onnx(method, tmp_path / f"{name}.onnx", dynamic_batch=True)

    images, _, meta = batch(method, coco, 3)
    with torch.no_grad():
        expected = method.export_outputs(method(images))
    for n in (len(images), 1):  # dynamic batch: the full batch and a single image
        got = ort_outputs(path, images[:n])
        assert list(got) == list(expected)
        for key, ref in expected.items():
            assert got[key].shape == tuple(ref[:n].shape), key
            diff = np.abs(got[key] - ref[:n].numpy()).max()
            assert diff <= OUTPUT_TOL, f"{name} output {key}: max abs diff {diff:.3g}"

    torch.manual_seed(123)  # the predictor's rebuilt model starts from other random weights
    predictor = load_onnx(path)
    with torch.no_grad():
        want = method.postprocess(method.predict_batch(images, meta))
        got = predictor.method.postprocess(predictor.method.predict_batch(images, meta))
    assert want, f"{name}: the test batch decodes to no prediction; nothing would be compared"
    assert len(got) == len(want)
    for p in got:  # matched by keypoints: near-equal scores may come out of NMS in another order
        same = [q for q in want if (q.image_id, q.category_id) == (p.image_id, p.category_id)]
        assert same, f"{name}: a prediction for image {p.image_id} that PyTorch does not make"
        dist = [np.abs(p.keypoints[:, :2] - q.keypoints[:, :2]).max() for q in same]
        q = same[int(np.argmin(dist))]
        assert min(dist) <= KEYPOINT_TOL, f"{name}: decoded keypoints differ by {min(dist):.3g} px"
        assert p.score == pytest.approx(q.score, abs=1e-4)
        if q.links is not None:
            assert np.allclose(p.links, q.links, atol=1e-4)
