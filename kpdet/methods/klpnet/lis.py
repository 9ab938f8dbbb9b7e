"""Location Instability Strategy (§3.3.4, Fig. 5) for overlapping objects of one category.

Each object's crop also shows the keypoints of a same-category neighbour in the overlap, so the
per-crop matching can hand an identity to the wrong object's peak. For every overlapping pair
(same image, same category, box IoU > ``overlap_iou``, both box
scores ≥ ``min_box_score``):
* fixed nodes: an object's keypoints outside the intersection box scoring ≥ ``fixed_score``;
* debatable nodes: the peaks of both crops inside the intersection (duplicates merged);
* the debatable nodes are assigned jointly (Hungarian) to the two objects' non-fixed identities,
  cost = −log p(identity | embedding) (features of same-category keypoints agree) +
  ``distance_weight`` · mean over the object's fixed nodes f of |‖p − x_f‖ / side − D̄_c[k, f]|
  (the distance to fixed nodes hardly changes among objects of a category; D̄ is the running
  mean learned in training); each object keeps at most its category's K keypoints;
* a debatable node whose identity probability is below ``min_identity_prob`` is an outlier.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torchvision.ops import box_iou

from kpdet.methods.klpnet.config import LisConfig


class LocationInstability:
    def __init__(self, cfg: LisConfig):
        self.cfg = cfg

    def __call__(self, bidx: torch.Tensor, boxes: torch.Tensor, box_scores: torch.Tensor, rois: torch.Tensor,
                 cats: torch.Tensor, loc: dict[str, torch.Tensor], mean_dist: torch.Tensor, sizes: torch.Tensor):
        """→ keypoints (M, Kmax, 2) and scores (M, Kmax) with the overlaps re-assigned."""
        xy, score = loc["xy"].clone(), loc["score"].clone()
        if len(boxes) < 2:
            return xy, score
        iou = box_iou(boxes, boxes)
        ok = box_scores >= self.cfg.min_box_score
        pair = (bidx[:, None] == bidx[None]) & (cats[:, None] == cats[None]) & (iou > self.cfg.overlap_iou)
        pair = pair & ok[:, None] & ok[None]
        pair = torch.triu(pair, 1)
        for i, j in torch.nonzero(pair).tolist():
            self._resolve(i, j, boxes, rois, cats, loc, mean_dist, sizes, xy, score)
        return xy, score

    def _resolve(self, i, j, boxes, rois, cats, loc, mean_dist, sizes, xy, score) -> None:
        c, kc = int(cats[i]), int(sizes[cats[i]])
        lo = torch.maximum(boxes[i, :2], boxes[j, :2])
        hi = torch.minimum(boxes[i, 2:], boxes[j, 2:])
        if (hi <= lo).any():
            return
        # debatable candidates: peaks of both crops inside the intersection, duplicates merged
        pts = torch.cat([loc["peaks_xy"][i], loc["peaks_xy"][j]])  # (2P, 2)
        sc = torch.cat([loc["peaks_score"][i], loc["peaks_score"][j]])
        lp = torch.cat([loc["peaks_lp"][i], loc["peaks_lp"][j]])[:, :kc]  # (2P, K_c)
        inside = ((pts >= lo) & (pts <= hi)).all(-1) & (sc >= self.cfg.candidate_score)
        pts, sc, lp = pts[inside], sc[inside], lp[inside]
        if not len(pts):
            return
        side = torch.stack([rois[i, 2] - rois[i, 0], rois[j, 2] - rois[j, 0]])
        order = sc.argsort(descending=True)
        keep: list[int] = []
        for p in order.tolist():
            if all(float((pts[p] - pts[q]).norm()) > 0.03 * float(side.min()) for q in keep):
                keep.append(p)
        pts, sc, lp = pts[keep], sc[keep], lp[keep]
        cols, costs = [], []
        for t, obj in enumerate((i, j)):
            kp = xy[obj, :kc]
            out = ~((kp >= lo) & (kp <= hi)).all(-1)
            fixed = out & (score[obj, :kc] >= self.cfg.fixed_score)
            open_k = torch.nonzero(~fixed).flatten()
            if not len(open_k):
                continue
            cost = -lp[:, open_k]  # (P, O)
            if fixed.any() and self.cfg.distance_weight > 0:
                f = torch.nonzero(fixed).flatten()
                dist = torch.cdist(pts, kp[f]) / side[t]  # (P, F)
                expect = mean_dist[c][open_k][:, f]  # (O, F)
                cost = cost + self.cfg.distance_weight * (dist[:, None] - expect[None]).abs().mean(-1)
            cols += [(obj, int(k)) for k in open_k]
            costs.append(cost)
        if not cols:
            return
        cost = torch.cat(costs, 1).cpu().numpy()
        r, col = linear_sum_assignment(np.nan_to_num(cost, nan=1e6, posinf=1e6))
        for p, q in zip(r, col):
            obj, k = cols[q]
            prob = float(lp[p, k].exp())
            if prob < self.cfg.min_identity_prob:
                continue  # outlier (Fig. 5c)
            xy[obj, k] = pts[p]
            score[obj, k] = sc[p] * prob
