"""Keypoint clusters: which keypoints share one multi-peak heatmap and one tag map.

A branch with n clusters splits the schema's keypoints into n groups. By default the split
is contiguous in keypoint order, smaller groups first: body schemas list keypoints by body
part (COCO-17: head 0–4, arms 5–10, legs 11–16), so 17 keypoints in 3 clusters give the
paper's (5, 6, 6) — head+shoulders / arms / legs — and in 5 clusters (3, 3, 3, 4, 4).
Any schema whose order does not follow its body structure can list the groups explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from kpdet.errors import ConfigError


def even_partition(k: int, n: int) -> list[list[int]]:
    """k keypoints in n contiguous groups, sizes differing by at most one, smaller first."""
    if not 1 <= n <= k:
        raise ConfigError(f"cannot split {k} keypoints into {n} clusters (need 1 ≤ n ≤ {k})")
    sizes = [k // n + (1 if i >= n - k % n else 0) for i in range(n)]
    bounds = np.cumsum([0, *sizes])
    return [list(range(int(a), int(b))) for a, b in zip(bounds[:-1], bounds[1:])]


@dataclass(frozen=True)
class Clusters:
    """One branch's clusters over K keypoints.

    cluster_of  # (K,) cluster index of each keypoint
    order       # (K,) d_k: position of keypoint k inside its cluster (Eq. 4)
    """

    groups: tuple[tuple[int, ...], ...]
    num_keypoints: int

    @staticmethod
    def build(k: int, n: int, explicit: dict[int, list[list[int]]] | None = None, where: str = "clusters"
              ) -> "Clusters":
        groups = (explicit or {}).get(n)
        if groups is None:
            groups = even_partition(k, n)
        flat = sorted(i for g in groups for i in g)
        if len(groups) != n or flat != list(range(k)) or any(not g for g in groups):
            raise ConfigError(f"{where}: the {n} clusters {groups} must be {n} non-empty groups that cover "
                              f"keypoints 0..{k - 1} exactly once")
        return Clusters(tuple(tuple(int(i) for i in g) for g in groups), k)

    @property
    def num(self) -> int:
        return len(self.groups)

    @property
    def sizes(self) -> list[int]:
        return [len(g) for g in self.groups]

    @property
    def cluster_of(self) -> np.ndarray:
        out = np.zeros(self.num_keypoints, np.int64)
        for c, g in enumerate(self.groups):
            out[list(g)] = c
        return out

    @property
    def order(self) -> np.ndarray:
        out = np.zeros(self.num_keypoints, np.int64)
        for g in self.groups:
            out[list(g)] = np.arange(len(g))
        return out

    @property
    def is_identity(self) -> bool:
        """One cluster per keypoint, in keypoint order: maps identify keypoints."""
        return self.groups == tuple((i,) for i in range(self.num_keypoints))


def alignment_mask(sparse: Clusters, dense: Clusters) -> np.ndarray:
    """(n_dense, n_sparse) 1 where a sparse cluster shares a keypoint with a dense cluster: the
    groups of the cross-branch grouped 1×1 convolution (sparse maps → dense cluster channels)."""
    mask = np.zeros((dense.num, sparse.num), np.float32)
    d_of = dense.cluster_of
    for s, g in enumerate(sparse.groups):
        mask[d_of[list(g)], s] = 1.0
    return mask
