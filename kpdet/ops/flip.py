"""Horizontal flips of maps in the pixel-centre convention (column j ↔ W − 1 − j)."""

from __future__ import annotations

import math

import torch


def flip_maps(maps: torch.Tensor, flip_index: torch.Tensor | None = None) -> torch.Tensor:
    """maps (B, C, H, W) mirrored left/right; channels permuted by ``flip_index`` (C,) when given.

    With cell centres at ``s·u + (s − 1)/2`` a mirrored input of width ``W = s·Wm`` has exactly
    mirrored maps, so no shift is needed for alignment in this convention.
    """
    out = maps.flip(-1)
    if flip_index is not None:
        out = out[:, flip_index]
    return out


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
    the border column is repeated into the vacated cells. Slices and one blend: a gather along
    the last axis is several times slower on CPU."""
    if shift == 0:
        return maps
    n = math.floor(shift)
    frac = float(shift) - n  # out[j] = (1 − frac)·maps[j − n] + frac·maps[j − n − 1]
    base = _shift_int(maps, n)
    if frac < 1e-12:
        return base
    return torch.lerp(base, _shift_int(maps, n + 1), frac)
