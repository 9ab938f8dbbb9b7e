"""CoKe's keypoint bank and clutter bank (Sec. 3.1.1), as buffers so checkpoints and DDP carry them.

Keypoint bank: one prototype per (category, keypoint), rows in category-id order
(``layout.rows``). A prototype is initialised with the mean of its first batch of features
(the paper's "mean over the training set" at initialisation, taken from the data the run
sees first, because the engine offers no pass over the data before training), then follows
the cumulative moving average of Eq. 4 and is re-normalised, so Eq. 5's
d = 2(1 − f·μ) keeps holding.

Clutter bank: ``groups × group_size`` features; each update writes new groups over the
oldest ones by time tag (FIFO). Empty groups have tag −1 and are masked out of the loss.

Under torch.distributed every process contributes: feature sums and counts are all-reduced
and clutter groups all-gathered, so all processes apply the same update.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _world() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


def _all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    if _world() > 1:
        torch.distributed.all_reduce(x)
    return x


def _all_gather_rows(x: torch.Tensor) -> torch.Tensor:
    """(N_i, ...) on each process → (ΣN_i, ...) in rank order (processes may hold different N_i)."""
    world = _world()
    if world == 1:
        return x
    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    torch.distributed.all_gather(sizes, n)
    top = int(max(s.item() for s in sizes))
    padded = x.new_zeros((top, *x.shape[1:]))
    padded[: x.shape[0]] = x
    out = [torch.zeros_like(padded) for _ in range(world)]
    torch.distributed.all_gather(out, padded)
    return torch.cat([o[: int(s.item())] for o, s in zip(out, sizes)])


class KeypointBank(nn.Module):
    """prototypes  # (P, D) unit rows;  count  # (P,) features averaged in so far (0: not initialised)."""

    def __init__(self, num_prototypes: int, dim: int, momentum: float = 0.9, mode: str = "cma",
                 period: int = 500):
        super().__init__()
        self.momentum = momentum
        self.mode = mode
        self.period = period
        self.register_buffer("prototypes", torch.zeros(num_prototypes, dim))
        self.register_buffer("count", torch.zeros(num_prototypes))
        # periodic mean (Table-7-style ablation): running sums over the current period
        self.register_buffer("period_sum", torch.zeros(num_prototypes, dim))
        self.register_buffer("period_count", torch.zeros(num_prototypes))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @property
    def initialised(self) -> torch.Tensor:
        return self.count > 0  # (P,)

    @torch.no_grad()
    def batch_statistics(self, features: torch.Tensor, rows: torch.Tensor, mask: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """features (N, D), rows (N,) prototype index, mask (N,) → sums (P, D), counts (P,) over all processes."""
        p, d = self.prototypes.shape
        f = features.detach().float()[mask]
        r = rows[mask]
        sums = torch.zeros(p, d, device=f.device).index_add_(0, r, f)
        counts = torch.zeros(p, device=f.device).index_add_(0, r, torch.ones_like(r, dtype=torch.float32))
        return _all_reduce_sum(sums), _all_reduce_sum(counts)

    @torch.no_grad()
    def initialise_missing(self, sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Prototypes never seen before and present now get the batch mean; returns that (P,) mask."""
        new = (counts > 0) & ~self.initialised
        if new.any():
            self.prototypes[new] = F.normalize(sums[new] / counts[new, None], dim=1)
            self.count[new] = counts[new]
        return new

    @torch.no_grad()
    def update(self, sums: torch.Tensor, counts: torch.Tensor, skip: torch.Tensor | None = None) -> None:
        """Eq. 4: μ_k ← α μ_k + (1 − α) mean_batch(f_k), for prototypes present in the batch."""
        seen = counts > 0
        if skip is not None:
            seen = seen & ~skip
        if self.mode == "cma":
            if seen.any():
                mean = sums[seen] / counts[seen, None]
                mixed = self.momentum * self.prototypes[seen] + (1 - self.momentum) * mean
                self.prototypes[seen] = F.normalize(mixed, dim=1)
            self.count += counts
            return
        self.period_sum += sums
        self.period_count += counts
        self.count += counts
        self.steps += 1
        if int(self.steps) % self.period == 0:
            have = self.period_count > 0
            self.prototypes[have] = F.normalize(self.period_sum[have] / self.period_count[have, None], dim=1)
            self.period_sum.zero_()
            self.period_count.zero_()


class ClutterBank(nn.Module):
    """features  # (G·S, D);  time  # (G,) time tag per group, −1 = empty;  clock  # () updates so far."""

    def __init__(self, groups: int, group_size: int, dim: int):
        super().__init__()
        self.groups, self.group_size = groups, group_size
        self.register_buffer("features", torch.zeros(groups * group_size, dim))
        self.register_buffer("time", torch.full((groups,), -1, dtype=torch.long))
        self.register_buffer("clock", torch.zeros((), dtype=torch.long))

    @property
    def valid(self) -> torch.Tensor:
        """(G·S,) bool: slots holding a feature."""
        return (self.time >= 0).repeat_interleave(self.group_size)

    @torch.no_grad()
    def push(self, groups: torch.Tensor) -> None:
        """groups (N, S, D) new clutter groups (all processes' are gathered) → replace the oldest."""
        groups = _all_gather_rows(groups.detach().float())
        if groups.shape[0] == 0:
            return
        groups = groups[-self.groups:]  # more new groups than slots: the newest win
        n = groups.shape[0]
        oldest = torch.argsort(self.time, stable=True)[:n]  # empty (−1) slots first, then the oldest
        slots = (oldest[:, None] * self.group_size + torch.arange(self.group_size, device=oldest.device)).reshape(-1)
        self.features[slots] = groups.reshape(-1, groups.shape[-1])
        self.time[oldest] = self.clock
        self.clock += 1
