"""Horizontal flips of maps in the pixel-centre convention (column j ↔ W − 1 − j)."""

from __future__ import annotations

import math

import torch

from kpdet.ops.chunks import chunk_items


def flip_maps(maps: torch.Tensor, flip_index: torch.Tensor | None = None) -> torch.Tensor:
    """maps (B, C, H, W) mirrored left/right; channels permuted by ``flip_index`` (C,) when given.

    With cell centres at ``s·u + (s − 1)/2`` a mirrored input of width ``W = s·Wm`` has exactly
    mirrored maps, so no shift is needed for alignment in this convention.
    """
    if flip_index is not None:
        maps = maps.index_select(1, flip_index.to(maps.device))  # a copy of whole maps; fancy indexing is ~5× slower
    return maps.flip(-1)


def _shift_int(maps: torch.Tensor, n: int) -> torch.Tensor:
    """maps moved n whole cells to the right (left for n < 0), border column repeated."""
    w = maps.shape[-1]
    n = max(-w, min(w, n))
    if n > 0:
        return torch.cat([maps[..., :1].expand(*maps.shape[:-1], n), maps[..., : w - n]], dim=-1)
    if n < 0:
        return torch.cat([maps[..., -n:], maps[..., -1:].expand(*maps.shape[:-1], -n)], dim=-1)
    return maps


def shift_x(maps: torch.Tensor, shift: float) -> torch.Tensor:
    """maps (B, C, H, W) moved ``shift`` cells to the right (fractional by linear interpolation);
    the border column is repeated into the vacated cells. One blend of two shifted slices written
    into the inner columns and two border fills: a gather along the last axis is several times
    slower on CPU."""
    if shift == 0:
        return maps
    w = maps.shape[-1]
    n = math.floor(shift)
    frac = float(shift) - n  # out[j] = (1 − frac)·maps[j − n] + frac·maps[j − n − 1], indices clamped
    if frac < 1e-12:
        return _shift_int(maps, n)
    out = torch.empty_like(maps)
    lo = min(max(n + 1, 0), w)  # columns lo … hi − 1 read two columns inside the map
    hi = max(min(w + n, w), lo)
    torch.lerp(maps[..., lo - n:hi - n], maps[..., lo - n - 1:hi - n - 1], frac, out=out[..., lo:hi])
    out[..., :lo] = maps[..., :1]  # both sources clamp to the first column
    out[..., hi:] = maps[..., -1:]  # … to the last
    return out


def flip_average(plain: torch.Tensor, mirrored: torch.Tensor, flip_index: torch.Tensor | None,
                 shift: float = 0.0, chunk: int | None = None) -> torch.Tensor:
    """The flip test's average ½·(plain + shift_x(flip_maps(mirrored), shift)).

    plain (B, C, H, W): maps of the crops; mirrored (B, C, H, W): maps of the mirrored crops as the
    model returns them. One output tensor is allocated; the flip, the shift and the average run on
    ``chunk`` crops at a time (cache-sized on CPU, see :mod:`kpdet.ops.chunks`)."""
    b, c, h, w = plain.shape
    step = chunk or chunk_items(b, c * h * w, plain.device)
    out = torch.empty_like(plain)
    for p, m, o in zip(plain.split(step), mirrored.split(step), out.split(step)):
        torch.lerp(p, shift_x(flip_maps(m, flip_index), shift), 0.5, out=o)  # ½ (p + m')
    return out
