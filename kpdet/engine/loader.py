"""Data loading for the engine: a resumable epoch order and per-item error handling.

* :class:`EpochSampler` fixes the order of an epoch by (seed, epoch) on every process and
  pads it to a whole number of global batches, so Accelerate's per-process sharding needs no
  padding of its own and a resumed run can skip exactly the items already seen.
* :class:`SafeDataset` seeds python/numpy/torch per item from (seed, epoch, index), so the
  augmentation of an item does not depend on the worker or process that loads it, and turns
  unreadable items (``DataError``) into a record instead of a crash.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler, get_worker_info

from kpdet.engine.seed import item_seed, seeded
from kpdet.errors import DataError

BadItem = tuple[int, str]  # (dataset index, error message naming the file)


class EpochSampler(Sampler[int]):
    def __init__(self, num_items: int, global_batch: int, seed: int, *, shuffle: bool = True):
        self.num_items, self.global_batch, self.seed, self.shuffle = num_items, global_batch, seed, shuffle
        self.epoch, self.skip = 0, 0

    @property
    def epoch_length(self) -> int:
        """Items per epoch over all processes: a whole number of global batches."""
        return math.ceil(self.num_items / self.global_batch) * self.global_batch

    def position(self, epoch: int, skip: int = 0) -> None:
        """Start the next iteration at item ``skip`` of epoch ``epoch``."""
        self.epoch, self.skip = epoch, skip

    def order(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            perm = torch.randperm(self.num_items, generator=g)
        else:
            perm = torch.arange(self.num_items)
        reps = math.ceil(self.epoch_length / self.num_items)
        return perm.repeat(reps)[: self.epoch_length].tolist()  # padding repeats the epoch's own start

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.skip:])

    def __len__(self) -> int:
        return self.epoch_length - self.skip


class SafeDataset(Dataset):
    """Wraps a method's dataset; items that raise DataError are recorded and, when ``replace``,
    substituted by the next readable item so batches keep their size (DDP needs equal steps)."""

    def __init__(self, dataset: Dataset, seed: int, *, replace: bool, max_attempts: int = 16):
        self.dataset, self.seed, self.replace, self.max_attempts = dataset, seed, replace, max_attempts
        self.epoch = 0  # set by the trainer before each iteration (workers get a fresh copy)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, list[BadItem]]:
        bad: list[BadItem] = []
        in_main = get_worker_info() is None  # keep the training process's own RNG streams intact
        attempts = self.max_attempts if self.replace else 1
        for attempt in range(min(attempts, len(self))):
            j = (index + attempt) % len(self)
            try:
                with seeded(item_seed(self.seed, self.epoch, index, attempt), restore=in_main):
                    return self.dataset[j], bad
            except DataError as e:
                bad.append((j, str(e)))
        return None, bad


class SkipBadCollate:
    """collate_fn: the method's collate over the readable items, plus the list of bad ones."""

    def __init__(self, collate: Callable[[Sequence[Any]], Any]):
        self.collate = collate

    def __call__(self, items: Sequence[tuple[Any, list[BadItem]]]) -> tuple[Any, list[BadItem]]:
        bad = [b for _, bs in items for b in bs]
        good = [item for item, _ in items if item is not None]
        return (self.collate(good) if good else None), bad
