"""CPU speed of every preset, PyTorch eager vs ONNX Runtime, beside peers measured in the same run.

    PYTHONPATH=. python benchmarks/speed_table.py [--quick] [--out benchmarks/speed_table.md]

For each preset (configs/<method>/*.yaml, built for COCO-17 at its configured input size):
parameters, GFLOPs (torch FlopCounterMode, 1 multiply-add = 2 FLOPs), batch-1 latency and
batch-8 throughput at ``--threads`` threads, for the PyTorch module and for the graph written by
``kpdet export`` (fixed size, dynamic batch) in ONNX Runtime; the machine's measured fp32 matmul
rate and each model's achieved GFLOP/s (GFLOPs × images/s at batch 8) as a fraction of it.
A preset whose estimated time exceeds ``--budget`` seconds is skipped with a note.

Peers (each in its own virtualenv, so that their dependencies never enter kpdet's):
Ultralytics yolov8n-pose / yolo11n-pose from YAML at the kapao presets' input sizes
(``--peer-python``, default /work/benchenv-export); mmpose top-down models when
``--mmpose-python`` names an interpreter that imports mmpose (skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from speed_timing import QUICK, Protocol, count_gflops, matmul_peak, max_abs_diff, measure  # noqa: E402

PEER_ENV = Path("/work/benchenv-export")
MMPOSE_ENV = Path("/work/benchenv-ccmspeed")
ASSUMED_EFFICIENCY = 0.25  # fraction of the matmul peak used to estimate a preset's run time


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def preset_row(path: Path, args, protocol: Protocol, peak: float) -> dict:
    from kpdet.config import load_config
    from kpdet.errors import KpdetError
    from kpdet.export.onnx_export import export_onnx
    from kpdet.export.runtime import session_for
    from kpdet.methods import get_method
    from kpdet.schema import COCO17

    label = f"{path.parent.name}/{path.stem}"
    try:
        cfg = load_config(path, resolve_paths=False)
        cls = get_method(cfg.method.name)
        torch.manual_seed(0)
        method = cls.from_config(cfg.method, {1: COCO17}).eval()
    except (KpdetError, ImportError) as e:
        return {"preset": label, "skipped": f"cannot build: {e}"}
    x = torch.rand_like(cls.example_input(cfg.method))  # (1, 3, H, W)
    row = {"preset": label, "input": list(x.shape[2:]), "params": sum(p.numel() for p in method.parameters()),
           "gflops": count_gflops(method, x)}
    one = row["gflops"] / (ASSUMED_EFFICIENCY * peak)  # seconds per image, estimated
    estimate = 2 * (protocol.warmup + protocol.min_reps) * (1 + args.batch) * one
    if estimate > args.budget:
        row["skipped"] = f"≈{estimate:.0f} s to measure at {ASSUMED_EFFICIENCY:.0%} of the matmul peak (budget {args.budget:.0f} s)"
        return row
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(method, Path(tmp) / "m.onnx", dynamic_batch=True, dynamic_size=False)
        row["export_s"] = time.perf_counter() - t0
        session = session_for(onnx_path, threads=args.threads)

        def forward(images):
            return method.export_outputs(method(images))

        row.update(measure(forward, session, x, args.batch, args.threads, protocol))
        names = [o.name for o in session.get_outputs()]
        with torch.no_grad():
            ref = forward(x)
        row["ort_max_abs_diff"] = max_abs_diff([ref[n] for n in names], session.run(names, {"input": x.numpy()}))
    return row


def run_peers(cmd: list[str], env: dict[str, str], what: str) -> tuple[list[dict], str | None]:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [], f"{what}: {e}"
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode:
        return rows, f"{what}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
    return rows, None


def ultralytics_peers(args, sizes: list[int]) -> tuple[list[dict], list[str]]:
    python = Path(args.peer_python)
    if not python.is_file():
        return [], [f"Ultralytics: skipped ({python} not found; create the peer virtualenv, see --help)"]
    cfg_dir = Path(tempfile.mkdtemp(prefix="yolo_cfg_"))
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(cfg_dir)}
    cmd = [str(python), str(Path(__file__).parent / "peers" / "ultralytics_pose.py"), "--imgsz", *map(str, sizes),
           "--threads", str(args.threads), "--batch", str(args.batch)] + (["--quick"] if args.quick else [])
    rows, err = run_peers(cmd, env, "Ultralytics")
    return rows, [err] if err else []


def mmpose_available(python: Path) -> bool:
    if not python.is_file():
        return False
    return subprocess.run([str(python), "-c", "import mmpose"], capture_output=True).returncode == 0


def fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def table(rows: list[dict], peak: float) -> list[str]:
    lines = ["| model | input | params (M) | GFLOPs | PyTorch b1 ms | ORT b1 ms | PyTorch b8 img/s | ORT b8 img/s "
             "| ORT speed-up b1 / b8 | PyTorch GFLOP/s (% peak) | ORT GFLOP/s (% peak) | ORT max abs diff |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = r.get("preset") or r["name"]
        size = "×".join(map(str, r["input"])) if r.get("input") else "–"
        params = fmt(r.get("params") and r["params"] / 1e6, ".2f")
        if "skipped" in r:
            lines.append(f"| {name} | {size} | {params} | {fmt(r.get('gflops'), '.3g')} | skipped: {r['skipped']} "
                         "| | | | | | | |")
            continue
        g = r["gflops"]
        pt_rate, ort_rate = g * r["throughput"], r["ort_throughput"] and g * r["ort_throughput"]
        speed = (f"{r['latency_ms'] / r['ort_latency_ms']:.2f} / {r['ort_throughput'] / r['throughput']:.2f}"
                 if r.get("ort_latency_ms") else "–")
        lines.append(
            f"| {name} | {size} | {params} | {g:.3g} | {r['latency_ms']:.1f} | {fmt(r.get('ort_latency_ms'), '.1f')} "
            f"| {r['throughput']:.2f} | {fmt(r.get('ort_throughput'), '.2f')} | {speed} "
            f"| {pt_rate:.1f} ({pt_rate / peak:.0%}) | {fmt(ort_rate, '.1f')} ({fmt(ort_rate and ort_rate / peak, '.0%')}) "
            f"| {fmt(r.get('ort_max_abs_diff'), '.1e')} |")
    return lines


def ratios(rows: list[dict], peers: list[dict]) -> list[str]:
    """kpdet presets against the peers of the same input size: latency and throughput ratios."""
    out = []
    for r in rows:
        if "skipped" in r:
            continue
        for p in peers:
            family = "kapao/" if p["name"].startswith("ultralytics") else "topdown/"
            if p.get("input") == r.get("input") and r["preset"].startswith(family):
                out.append(f"- {r['preset']} vs {p['name']} at {'×'.join(map(str, r['input']))} "
                           f"({r['params'] / 1e6:.1f} M vs {p['params'] / 1e6:.1f} M params): batch-1 latency ratio "
                           f"{r['latency_ms'] / p['latency_ms']:.2f} (PyTorch), "
                           f"{fmt(r.get('ort_latency_ms') and p.get('ort_latency_ms') and r['ort_latency_ms'] / p['ort_latency_ms'], '.2f')} (ORT); "
                           f"throughput ratio {r['throughput'] / p['throughput']:.2f} (PyTorch) — below 1 latency / above 1 throughput means kpdet is faster")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).parent / "speed_table.md"))
    parser.add_argument("--configs", default=str(ROOT / "configs"))
    parser.add_argument("--only", nargs="*", default=None, help="presets to run, as method/name (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds a preset may take (estimated)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a check that it runs)")
    parser.add_argument("--note", default="", help="a line for the header (e.g. 'measured under load')")
    parser.add_argument("--peer-python", default=str(PEER_ENV / "bin" / "python"))
    parser.add_argument("--mmpose-python", default=str(MMPOSE_ENV / "bin" / "python"))
    args = parser.parse_args()
    protocol = QUICK if args.quick else Protocol()

    import onnxruntime

    peak = matmul_peak(args.threads)
    presets = sorted(Path(args.configs).glob("*/*.yaml"))
    if args.only is not None:
        presets = [p for p in presets if f"{p.parent.name}/{p.stem}" in args.only]
    rows = []
    for path in presets:
        print(f"{path.parent.name}/{path.stem} …", file=sys.stderr, flush=True)
        rows.append(preset_row(path, args, protocol, peak))
    sizes = sorted({r["input"][0] for r in rows if r["preset"].startswith("kapao/") and "skipped" not in r})
    peers, notes = ultralytics_peers(args, sizes) if sizes else ([], ["Ultralytics: no kapao preset measured"])
    if not mmpose_available(Path(args.mmpose_python)):
        notes.append(f"mmpose (SimpleBaseline-R50, RTMPose-t): skipped, no interpreter that imports mmpose "
                     f"at {args.mmpose_python} (mmcv builds from source for ~11 min)")
    else:
        cmd = [args.mmpose_python, str(Path(__file__).parent / "peers" / "mmpose_topdown.py"),
               "--threads", str(args.threads), "--batch", str(args.batch)] + (["--quick"] if args.quick else [])
        more, err = run_peers(cmd, dict(os.environ), "mmpose")
        peers += more
        notes += [err] if err else []

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    warn = []
    if affinity < args.threads:
        warn.append(f"**Not a quiet-machine measurement: {args.threads} threads ran on {affinity} CPU core(s) "
                    "(process affinity); rerun unpinned on an idle machine.**")
    if args.quick:
        warn.append("**Quick settings (few repetitions): a check that the harness runs, not reference numbers.**")
    if args.note:
        warn.append(f"**{args.note}**")
    cmd = "python benchmarks/speed_table.py " + " ".join(sys.argv[1:])
    lines = [
        "# kpdet CPU speed table", "",
        f"Generated by `{cmd.strip()}` on {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}.", "",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs ({affinity} in this process' affinity); "
        f"Python {platform.python_version()}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; "
        f"{args.threads} threads (torch.set_num_threads, ORT intra-op threads), batch 1 latency (median) and "
        f"batch {args.batch} throughput.", "",
        f"Measured fp32 matmul peak: **{peak:.1f} GFLOP/s** (2048×2048 torch.mm, {args.threads} threads, best of 10).",
        "", *[w + "\n" for w in warn],
        "GFLOPs: torch FlopCounterMode on one image at the preset's input size (1 multiply-add = 2 FLOPs; "
        "halve to compare with papers that report GMACs). Models are built for COCO-17 with random "
        "initialisation. ORT: the graph `kpdet export` writes (fixed size, dynamic batch), intra-op threads as "
        "above. klpnet: the graph is its detector; the per-object CKLM runs in PyTorch in both columns' "
        "predictors and is not timed here.", "",
        "## kpdet presets", "", *table(rows, peak), "",
        "## Peers (same run, same protocol)", "", *(table(peers, peak) if peers else ["(none measured)"]), "",
        *([f"### Ratios", "", *ratios(rows, peers), ""] if peers else []),
        *(["## Notes", "", *[f"- {n}" for n in notes], ""] if notes else []),
    ]
    from kpdet.fileio import atomic_open

    with atomic_open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
