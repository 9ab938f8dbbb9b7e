"""One timing protocol for kpdet and its peers (imported by speed_table.py and peers/*.py).

Needs torch and onnxruntime only, so that it also runs in a peer's own virtualenv.
"""

from __future__ import annotations

import io
import statistics
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch


@dataclass
class Protocol:
    warmup: int = 3
    min_seconds: float = 3.0  # per measured quantity
    min_reps: int = 5
    max_reps: int = 200


QUICK = Protocol(warmup=1, min_seconds=0.5, min_reps=2, max_reps=20)


def repeat(fn: Callable[[], object], p: Protocol) -> float:
    """Median seconds of one call, after ``p.warmup`` calls."""
    for _ in range(p.warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < p.max_reps and (len(times) < p.min_reps or time.perf_counter() - start < p.min_seconds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_peak(threads: int, n: int = 2048, reps: int = 10) -> float:
    """Measured fp32 matrix-multiply rate (GFLOP/s, 2·n³ per product), best of ``reps``."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def count_gflops(model: torch.nn.Module, x: torch.Tensor) -> float:
    """Forward FLOPs of ``model(x)`` / 1e9 (torch FlopCounterMode: 1 multiply-add = 2 FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / 1e9


def ort_session(model: bytes | str, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def export_bytes(model: torch.nn.Module, x: torch.Tensor) -> bytes:
    """A fixed-size, dynamic-batch ONNX graph of a peer model (kpdet models use kpdet export)."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=False, input_names=["input"], opset_version=17,
                          dynamic_axes={"input": {0: "batch"}})
    return buf.getvalue()


@dataclass
class Speed:
    latency_ms: float  # batch 1, median
    throughput: float  # images/s at batch 8
    ort_latency_ms: float | None = None
    ort_throughput: float | None = None
    ort_max_abs_diff: float | None = None


def measure(torch_fn: Callable[[torch.Tensor], object], session, x1: torch.Tensor, batch: int, threads: int,
            p: Protocol) -> dict:
    """PyTorch eager and (if ``session``) ONNX Runtime: batch-1 latency and batch-``batch`` throughput."""
    torch.set_num_threads(threads)
    xb = x1.expand(batch, -1, -1, -1).contiguous()
    with torch.inference_mode():
        lat = repeat(lambda: torch_fn(x1), p)
        thr = batch / repeat(lambda: torch_fn(xb), p)
    out = Speed(lat * 1e3, thr)
    if session is not None:
        name = session.get_inputs()[0].name
        a1, ab = x1.numpy(), xb.numpy()
        out.ort_latency_ms = repeat(lambda: session.run(None, {name: a1}), p) * 1e3
        out.ort_throughput = batch / repeat(lambda: session.run(None, {name: ab}), p)
    return asdict(out)


def max_abs_diff(torch_outputs: list[torch.Tensor], ort_outputs: list[np.ndarray]) -> float:
    return max(float(np.abs(o - t.numpy()).max()) for t, o in zip(torch_outputs, ort_outputs))
