import numpy as np
import torch

from kpdet.ops.affine import apply_affine, compose_affine, invert_affine


def test_apply_affine_numpy_and_torch_agree():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(3, 2, 3))
    p = rng.normal(size=(3, 5, 2))
    out_np = apply_affine(p, m)
    out_t = apply_affine(torch.as_tensor(p), torch.as_tensor(m)).numpy()
    expected = np.einsum("bij,bkj->bki", m[:, :, :2], p) + m[:, None, :, 2]
    np.testing.assert_allclose(out_np, expected, atol=1e-12)
    np.testing.assert_allclose(out_t, expected, atol=1e-12)


def test_invert_and_compose():
    m = np.array([[2.0, 0.5, 3.0], [-0.3, 1.5, -7.0]])
    ident = compose_affine(invert_affine(m), m)
    np.testing.assert_allclose(ident, [[1, 0, 0], [0, 1, 0]], atol=1e-12)
