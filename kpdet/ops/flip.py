"""Horizontal flips of maps in the pixel-centre convention (column j ↔ W − 1 − j)."""

from __future__ import annotations

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


def shift_x(maps: torch.Tensor, shift: float) -> torch.Tensor:
    """maps (B, C, H, W) moved ``shift`` cells to the right (fractional by linear interpolation);
    the border column is repeated into the vacated cells. Done as one product with a (W, W)
    interpolation matrix: a gather along the last axis is ~10× slower on CPU."""
    if shift == 0:
        return maps
    w = maps.shape[-1]
    cols = torch.arange(w, device=maps.device, dtype=torch.float64) - shift
    lo = torch.floor(cols)
    frac = cols - lo
    lo_i = lo.long().clamp(0, w - 1)
    hi_i = (lo.long() + 1).clamp(0, w - 1)
    m = torch.zeros(w, w, device=maps.device, dtype=torch.float64)  # out[j] = Σ_i maps[i] m[j, i]
    rows = torch.arange(w, device=maps.device)
    m.index_put_((rows, lo_i), 1 - frac, accumulate=True)
    m.index_put_((rows, hi_i), frac, accumulate=True)
    return maps @ m.T.to(maps.dtype)
