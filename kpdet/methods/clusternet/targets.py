"""Per-image targets for bottom-up training (runs in data workers, NumPy only).

heatmap  # (K, Hm, Wm) per keypoint, the max over people of their Gaussians; a cluster's
         #   multi-peak target is the max over its keypoints (taken in the loss, per branch)
mask     # (Hm, Wm) 0 inside crowd regions and around people without labelled keypoints
joints   # (N_max, K, 2) int64: flat map index of each person's keypoint, 1 when it is
         #   labelled and on the map (the tag loss reads the tag maps there)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kpdet.codecs.heatmap import gaussian_heatmaps
from kpdet.structures import Sample, image_to_map


@dataclass(frozen=True)
class BottomUpTargets:
    num_keypoints: int
    heatmap_size: tuple[int, int]  # Hm, Wm
    stride: int
    sigma: float
    max_instances: int

    def __call__(self, sample: Sample) -> dict[str, Any]:
        hm, wm = self.heatmap_size
        k = self.num_keypoints
        inst = sample.instances
        kps = np.asarray(inst.keypoints, np.float64)[:, :k]  # (N, K, 3) input pixels
        labelled = (kps[..., 2] > 0).any(1) if len(inst) else np.zeros(0, bool)
        crowd = np.asarray(inst.iscrowd, bool)
        heatmap = np.zeros((k, hm, wm), np.float32)
        joints = np.zeros((self.max_instances, k, 2), np.int64)
        mask = np.ones((hm, wm), np.float32)
        people = np.flatnonzero(~crowd & labelled)[: self.max_instances]
        for slot, n in enumerate(people):
            maps, weight = gaussian_heatmaps(kps[n], (hm, wm), self.stride, self.sigma)
            np.maximum(heatmap, maps, out=heatmap)
            cell = np.rint(image_to_map(kps[n, :, :2], self.stride)).astype(np.int64)  # (K, 2)
            cell[:, 0] = cell[:, 0].clip(0, wm - 1)
            cell[:, 1] = cell[:, 1].clip(0, hm - 1)
            joints[slot, :, 0] = cell[:, 1] * wm + cell[:, 0]
            joints[slot, :, 1] = weight > 0
        for n in np.flatnonzero(crowd | ~labelled):
            x, y, w, h = np.asarray(inst.boxes[n], np.float64)
            lo = np.floor(image_to_map(np.array([x, y]), self.stride)).astype(int)
            hi = np.ceil(image_to_map(np.array([x + w, y + h]), self.stride)).astype(int)
            mask[max(lo[1], 0): max(hi[1] + 1, 0), max(lo[0], 0): max(hi[0] + 1, 0)] = 0.0
        return {"heatmap": heatmap, "mask": mask, "joints": joints}
