"""Speed of COCO keypoint evaluation: kpdet vs pycocotools vs faster-coco-eval (run by hand).

    PYTHONPATH=. python benchmarks/eval_speed.py [--images 5000] [--repeat 3]

A deterministic COCO-val-sized problem (5,000 images, ~11,000 people with crowd regions,
~20,000 scored predictions) is evaluated by each tool in its own process: time of
results loading + evaluate + accumulate + summarise (best of --repeat; pycocotools once;
copying the results for loadRes is not timed), memory: the growth of the process' peak RSS
during the first run (sees C++ allocations too) and tracemalloc's peak in a second run
(Python and NumPy allocations). The ten statistics must agree.
kpdet's time includes its PCK and breakdown extras.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import multiprocessing as mp
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "eval"))
sys.path.insert(0, str(ROOT))


def _problem(n_images: int):
    from problem import make_problem

    return make_problem(n_images, seed=2024, people=1.8, dets_per_gt=1.2)


def _runner(tool: str, gt: dict, preds: list[dict]):
    from kpdet.schema import COCO17

    if tool == "kpdet":
        from kpdet.data.coco import parse_coco
        from kpdet.eval import evaluate
        from kpdet.eval.coco_eval import STAT_KEYS

        ds = parse_coco(copy.deepcopy(gt))

        def run():
            t0 = time.perf_counter()
            r = evaluate(ds, preds)
            return np.array([r[k] for k in STAT_KEYS]), time.perf_counter() - t0
        return run
    if tool == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    else:
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()

    def run():
        res = copy.deepcopy(preds)  # loadRes writes into the results
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            cd = cg.loadRes(res)
            if tool == "pycocotools":
                ev = COCOeval(cg, cd, "keypoints")
                ev.params.kpt_oks_sigmas = np.asarray(COCO17.sigmas)
            else:
                ev = COCOeval(cg, cd, "keypoints", kpt_oks_sigmas=list(COCO17.sigmas))
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return np.asarray(ev.stats[:10], np.float64), time.perf_counter() - t0
    return run


def _measure(tool: str, n_images: int, repeat: int, q) -> None:
    gt, preds = _problem(n_images)
    run = _runner(tool, gt, preds)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats, t = run()  # first run: peak RSS growth (before anything else raised the peak)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times = [t] + [run()[1] for _ in range(repeat - 1)]
    q.put((tool, min(times), peak, (rss1 - rss0) * 1024, stats))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    gt, preds = _problem(args.images)
    n_people = sum(1 for a in gt["annotations"] if not a["iscrowd"])
    n_crowd = len(gt["annotations"]) - n_people
    print(f"problem: {len(gt['images'])} images, {n_people} people, {n_crowd} crowd regions, "
          f"{len(preds)} predictions")
    ctx = mp.get_context("spawn")
    results = {}
    for tool, rep in (("kpdet", args.repeat), ("faster-coco-eval", args.repeat), ("pycocotools", 1)):
        q = ctx.Queue()
        p = ctx.Process(target=_measure, args=(tool, args.images, rep, q))
        p.start()
        results[tool] = q.get()
        p.join()
    print(f"{'tool':<18}{'time s':>9}{'tracemalloc peak MB':>22}{'peak RSS growth MB':>21}")
    for tool, (_, t, peak, rss, _) in results.items():
        print(f"{tool:<18}{t:>9.3f}{peak / 2**20:>22.1f}{rss / 2**20:>21.1f}")
    k = results["kpdet"][1]
    print(f"speed-up of kpdet: {results['pycocotools'][1] / k:.1f}× pycocotools, "
          f"{results['faster-coco-eval'][1] / k:.2f}× faster-coco-eval")
    ref = results["pycocotools"][4]
    for tool in ("kpdet", "faster-coco-eval"):
        diff = float(np.abs(results[tool][4] - ref).max())
        print(f"{tool}: max |stat - pycocotools| = {diff:.3g}" + ("  (identical)" if diff <= 1e-12 else ""))
    print("AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl =", np.round(ref, 4).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
