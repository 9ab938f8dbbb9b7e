"""Post-processing cost of KAPAO, network outputs → predictions in image coordinates (decode of
the candidates, thresholds, NMS, keypoint-object fusion, mapping back), batch 1, CPU, without a
trained model: the grids are synthetic logits of a converged-looking detector. --poses people
each give 6 near-duplicate pose objects and, per keypoint, 2 keypoint objects on the stride-8
grid; every other anchor has background objectness σ(N(−8, 1.5)).

Peer in the same run: the same code with the confidence pre-filter off (every anchor decoded,
then thresholded), which is how the decoder worked before. Times are CPU time of this process
(``time.process_time``), best of --rounds, so that other work on the core does not count.

    taskset -c 1 python benchmarks/kapao_postprocess.py [--size 256] [--poses 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def synthetic_grids(method, size: int, poses: int, seed: int = 0) -> list[torch.Tensor]:
    """4 × (1, Na, size/s, size/s, No) logits with ``poses`` people of K keypoints."""
    from kpdet.nn.csp_pan import STRIDES

    g = torch.Generator().manual_seed(seed)
    lay = method.layout
    nc, k = lay.num_classes, lay.num_keypoints[0]
    grids = []
    for s in STRIDES:
        x = torch.randn(1, 3, size // s, size // s, lay.num_outputs, generator=g)
        x[..., 4] = torch.randn(x.shape[:-1], generator=g) * 1.5 - 8
        x[..., 5: 5 + nc] = torch.randn(x.shape[:-1] + (nc,), generator=g) * 1.5 - 4
        grids.append(x)
    logit = lambda p: torch.logit(torch.as_tensor(p).clamp(0.02, 0.98))  # noqa: E731
    for _ in range(poses):
        w = float(torch.empty(1).uniform_(size / 8, size / 3, generator=g))
        centre = torch.rand(2, generator=g) * (size - w) + w / 2
        kps = centre + (torch.rand(k, 2, generator=g) - 0.5) * w
        gi = 1 if w < size / 5 else 2  # stride 16 or 32
        s, anc = STRIDES[gi], method.anchors[gi]
        for a in range(3):
            for dx, dy in ((0, 0), (1, 0)):
                cell = (centre / s).floor() + torch.tensor([dx, dy])
                cell = cell.clamp(0, size // s - 1)
                row = grids[gi][0, a, int(cell[1]), int(cell[0])]
                row[:2] = logit(((centre + 0.5) / s - cell + 0.5) / 2 + torch.randn(2, generator=g) * 0.01)
                row[2:4] = logit((torch.tensor([w, w * 1.5]) / anc[a]).sqrt() / 2)
                row[4], row[5] = 3.0 + 0.1 * a, 3.0
                row[5 + nc:] = logit(((kps + 0.5 - cell * s) / anc[a] + 2) / 4).reshape(-1)
        for j in range(k):  # keypoint objects of this person, stride 8
            for a in range(2):
                cell = (kps[j] / 8).floor().clamp(0, size // 8 - 1)
                row = grids[0][0, a, int(cell[1]), int(cell[0])]
                row[:2] = logit(((kps[j] + 1.0 + 0.5) / 8 - cell + 0.5) / 2)
                row[2:4] = logit(torch.tensor(0.5))
                row[4], row[5 + lay.num_pose_classes + j] = 2.5 - a, 3.0
    return grids


def cpu_ms(fn, repeats: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(repeats):
            fn()
        best = min(best, time.process_time() - t0)
    return 1000 * best / repeats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--poses", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from kpdet.methods.kapao.config import KapaoConfig
    from kpdet.methods.kapao.decode import raw_candidates
    from kpdet.methods.kapao.method import Kapao
    from kpdet.schema import COCO17

    cfg = KapaoConfig(input_size=args.size, width_multiple=0.125, depth_multiple=0.33)
    method = Kapao(cfg, {1: COCO17}).eval()
    grids = synthetic_grids(method, args.size, args.poses)
    meta = [{"image_id": 1, "input_to_image": np.eye(3)[:2]}]
    nc = method.layout.num_classes

    def peer(fusion: bool):  # every anchor decoded, then thresholds, NMS, fusion
        cand = raw_candidates(grids, method.anchors, nc)
        return method.to_predictions(method.detections(cand, fusion), meta)

    n = sum(x[0, ..., 0].numel() for x in grids)
    print(f"input {args.size} px, {n} anchors, threads {args.threads}, CPU ms per image (best of {args.rounds})")
    for fusion in (False, True):
        fast = method.decode(grids, meta, fusion=fusion)
        slow = peer(fusion)
        assert [p.score for p in fast] == [p.score for p in slow]
        t_fast = cpu_ms(lambda: method.decode(grids, meta, fusion=fusion), args.repeats, args.rounds)
        t_peer = cpu_ms(lambda: peer(fusion), args.repeats, args.rounds)
        fused = sum(int((p.keypoints[:, 2] > 0).sum()) for p in fast)
        print(f"fusion {'on ' if fusion else 'off'}: {t_fast:6.2f} ms  (every anchor decoded: {t_peer:6.2f} ms, "
              f"ratio {t_peer / t_fast:4.1f}); {len(fast)} poses, {fused} keypoints fused, "
              f"{len(method.candidates(grids, fusion)['obj'])} candidates decoded")


if __name__ == "__main__":
    main()
