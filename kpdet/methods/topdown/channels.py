"""Output channel layout for several categories, and the per-sample heatmap targets.

Decision: one block of K_c channels per category (in category-id order), not a shared
K_max block with a mask. Unrelated keypoints (a car's wheel, a chair's leg) never share a
channel, each category decodes exactly its own schema, and the cost is only the final 1×1
conv's width. A sample supervises its own category's block; other blocks get no loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kpdet.codecs.heatmap import gaussian_heatmaps
from kpdet.schema import KeypointSchema
from kpdet.structures import Sample


@dataclass(frozen=True)
class ChannelBlocks:
    offsets: dict[int, int]  # category id → first channel
    sizes: dict[int, int]  # category id → K
    flip_index: np.ndarray  # (C,) left/right swap within every block

    @staticmethod
    def from_schemas(schemas: dict[int, KeypointSchema]) -> "ChannelBlocks":
        offsets, sizes, flips, start = {}, {}, [], 0
        for cat in sorted(schemas):
            k = schemas[cat].num_keypoints
            if k == 0:
                continue
            offsets[cat], sizes[cat] = start, k
            flips.append(schemas[cat].flip_index + start)
            start += k
        if not sizes:
            raise ValueError("no category with keypoints: nothing for a keypoint model to predict")
        return ChannelBlocks(offsets, sizes, np.concatenate(flips))

    @property
    def total(self) -> int:
        return int(sum(self.sizes.values()))

    @property
    def max_keypoints(self) -> int:
        return max(self.sizes.values())

    def channels(self, category_id: int) -> np.ndarray:
        return np.arange(self.offsets[category_id], self.offsets[category_id] + self.sizes[category_id])

    def gather_index(self, category_ids: list[int]) -> np.ndarray:
        """(B, K_max) channel of each item's keypoint k (padding repeats the block's first channel)."""
        out = np.zeros((len(category_ids), self.max_keypoints), np.int64)
        for i, c in enumerate(category_ids):
            k = self.sizes[c]
            out[i, :k] = self.channels(c)
            out[i, k:] = self.offsets[c]
        return out


@dataclass(frozen=True)
class HeatmapTargets:
    """Picklable encoder run in data workers: one instance crop → its targets.

    heatmap  # (C, Hm, Wm) Gaussians in the instance's category block, zeros elsewhere
    weight   # (C,) visibility weight (1: labelled and on the map)
    mask     # (C,) 1 on the instance's category block
    """

    blocks: ChannelBlocks
    heatmap_size: tuple[int, int]  # Hm, Wm
    stride: int
    sigma: float

    def __call__(self, sample: Sample) -> dict[str, Any]:
        inst = sample.instances
        cat = int(inst.category_ids[0])
        c = self.blocks.total
        heatmap = np.zeros((c, *self.heatmap_size), np.float32)
        weight = np.zeros(c, np.float32)
        mask = np.zeros(c, np.float32)
        idx = self.blocks.channels(cat)
        kp = inst.keypoints[0, : len(idx)]
        heatmap[idx], weight[idx] = gaussian_heatmaps(kp, self.heatmap_size, self.stride, self.sigma)
        mask[idx] = 1.0
        return {"heatmap": heatmap, "weight": weight, "mask": mask}
