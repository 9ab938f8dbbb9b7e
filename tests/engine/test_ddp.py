"""Two CPU processes (DDP over gloo) through `accelerate launch`, training and testing via the CLI."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from kpdet.engine.checkpoint import load_checkpoint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_training_and_test(toy_data, tmp_path):
    train, val = toy_data
    cfg = tmp_path / "toy.yaml"
    cfg.write_text("method: {name: toy}\n"
                   "train: {epochs: 2, batch_size: 2, num_workers: 0, log_every: 1, checkpoint_every_steps: 2}\n")
    run, preds = tmp_path / "run", tmp_path / "preds.json"
    # `accelerate launch --cpu` starts a single process unless MPI is installed; --multi_gpu
    # starts torchrun workers, which kpdet runs on the CPU (gloo) when there is no GPU.
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), str(Path(__file__).parent / "launch_toy.py"),
           "train", str(cfg), "--out", str(run), "--set", f"data.train={train}", "--set", f"data.val={val}",
           "::", "test", str(run), "--predictions", str(preds)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("finished: 6 steps") == 1  # 12 items / (2 processes × 2) × 2 epochs; main prints
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["step"] == 6 and len(ckpt["rng"]) == 2  # one RNG state per process
    assert sorted(p.name for p in run.glob("*.pt")) == ["best.pt", "last.pt"]
    assert sorted(p["image_id"] for p in json.loads(preds.read_text())) == [1, 2, 3, 4]  # gathered, no duplicates
