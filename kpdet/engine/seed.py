"""Seeding and RNG state capture as tensors/lists (checkpoints load with weights_only=True)."""

from __future__ import annotations

import contextlib
import random
import zlib
from typing import Any, Iterator

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def item_seed(seed: int, epoch: int, index: int, attempt: int = 0) -> int:
    """A 32-bit seed for one dataset item: augmentation depends on (seed, epoch, index) only,
    not on the worker or process that loads it, so runs and resumed runs see the same data."""
    return zlib.crc32(f"{seed}:{epoch}:{index}:{attempt}".encode())


@contextlib.contextmanager
def seeded(seed: int, *, restore: bool) -> Iterator[None]:
    """Seed python/numpy/torch for a block; with ``restore`` put the previous states back after."""
    saved = get_rng_state() if restore else None
    seed_everything(seed)
    try:
        yield
    finally:
        if saved is not None:
            set_rng_state(saved)


def get_rng_state() -> dict[str, Any]:
    version, state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(state, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    np.random.set_state((nps["kind"], nps["keys"].numpy().astype(np.uint32), nps["pos"],
                         nps["has_gauss"], nps["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
