"""The chunked peak search equals the plain composition: filter the whole maps, argmax, gather."""

import pytest
import torch

import kpdet.ops.chunks as chunks
from kpdet.ops.blur import banded_product, blur_matrix, gaussian_blur
from kpdet.ops.flip import flip_average
from kpdet.ops.peak_search import FlipPair, find_peaks
from kpdet.ops.peaks import PeakWindow, argmax_2d


def _reference(maps, kernel=None):
    filtered = maps if kernel is None else gaussian_blur(maps, kernel)
    cells, maxvals = argmax_2d(filtered)
    return cells, maxvals, PeakWindow.at(filtered, cells)


def _same(peaks, ref, atol=0.0):
    cells, maxvals, win = ref
    assert torch.equal(peaks.cells, cells)
    assert torch.allclose(peaks.maxvals, maxvals, atol=atol, rtol=0)
    assert torch.allclose(peaks.window.z, win.z, atol=atol, rtol=0)
    assert torch.equal(peaks.window.inside_x, win.inside_x) and torch.equal(peaks.window.inside_y, win.inside_y)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(chunks, "CPU_CHUNK_ELEMENTS", 3 * 5 * 16 * 12)  # 3 instances a chunk: 7 = 3 + 3 + 1


@pytest.mark.parametrize("kernel", [None, 5, 11])
def test_find_peaks_equals_filter_then_argmax(kernel, small_chunks):
    torch.manual_seed(0)
    maps = torch.rand(7, 5, 16, 12)
    maps[0, 0, 0, 3] = 2.0  # a peak on the border: no full window
    maps[1, 1] = -torch.rand(16, 12)  # ≤ 0 everywhere: filtered to zeros, peak (0, 0) with maxval 0
    _same(find_peaks(maps, kernel), _reference(maps, kernel), atol=1e-6)


def test_ties_go_to_the_first_cell_in_row_major_order():
    maps = torch.zeros(1, 3, 6, 5)
    maps[0, 0, 2, 4] = maps[0, 0, 4, 1] = 1.0  # first in row-major order: (x 4, y 2)
    maps[0, 1, 3, 0] = maps[0, 1, 3, 3] = maps[0, 1, 5, 0] = 1.0
    maps[0, 2] = 0.5  # a flat map
    expect = torch.tensor([[[4.0, 2.0], [0.0, 3.0], [0.0, 0.0]]])
    assert torch.equal(argmax_2d(maps)[0], expect)
    assert torch.equal(find_peaks(maps).cells, expect)
    assert torch.equal(find_peaks(maps, blur_kernel=1).cells, expect)  # 1 tap: the filtered path, unfiltered


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.25, -0.6, 1.5])
def test_flip_pair_equals_decoding_the_stored_average(shift, small_chunks):
    torch.manual_seed(1)
    plain, mirrored = torch.rand(7, 5, 16, 12), torch.rand(7, 5, 16, 12)
    flip_index = torch.tensor([0, 2, 1, 4, 3])
    average = flip_average(plain, mirrored, flip_index, shift)
    for kernel in (None, 11):
        _same(find_peaks(plain, kernel, flip=FlipPair(mirrored, flip_index, shift)), _reference(average, kernel),
              atol=1e-6)


def test_flip_average_is_the_mean_with_the_mirrored_shifted_maps(small_chunks):
    plain, mirrored = torch.rand(7, 3, 4, 6), torch.rand(7, 3, 4, 6)
    flip_index = torch.tensor([1, 0, 2])
    m = mirrored[:, flip_index].flip(-1)
    shifted = 0.7 * m + 0.3 * torch.cat([m[..., :1], m[..., :-1]], dim=-1)  # 0.3 cells to the right
    assert torch.allclose(flip_average(plain, mirrored, flip_index, 0.3), 0.5 * (plain + shifted), atol=1e-6)


@pytest.mark.parametrize("n,kernel", [(48, 11), (64, 11), (37, 17), (9, 11), (16, 3)])
def test_banded_product_equals_the_dense_product(n, kernel):
    g = blur_matrix(n, kernel, 2.0, dtype=torch.float64)
    b = torch.rand(n, 30, dtype=torch.float64)
    out = banded_product(g, b, kernel // 2, torch.empty(n, 30, dtype=torch.float64))
    assert torch.allclose(out, g @ b, atol=1e-12)
    out_t = torch.empty(30, n, dtype=torch.float64)
    banded_product(g, b, kernel // 2, out_t.T)  # a transposed destination, as the peak search writes
    assert torch.allclose(out_t.T, g @ b, atol=1e-12)


def test_empty_batch():
    peaks = find_peaks(torch.zeros(0, 17, 64, 48), 11)
    assert peaks.cells.shape == (0, 17, 2) and peaks.maxvals.shape == (0, 17) and peaks.window.z.shape == (0, 17, 3, 3)
