"""`kpdet train CONFIG --out RUN`: train a method; `accelerate launch -m kpdet.cli train …` for DDP."""

from __future__ import annotations

import argparse

HELP = "train a method from a config (CPU, GPU, or several with `accelerate launch`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML config (e.g. configs/<method>/<preset>.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=5 (repeatable)")
    parser.add_argument("--out", required=True, metavar="RUN", help="run directory (checkpoints, logs, config)")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN from its last checkpoint")
    parser.add_argument("--force", action="store_true", help="overwrite a run already in RUN")


def run(args: argparse.Namespace) -> int:
    from kpdet.config import load_config
    from kpdet.engine.trainer import train

    cfg = load_config(args.config, args.overrides)
    result = train(cfg, args.out, resume=args.resume, force=args.force)
    from accelerate import PartialState

    if PartialState().is_main_process:
        s = result.state
        how = f"stopped by the {result.stopped}" if result.stopped else "finished"
        best = (f"; best {s.best['metric']} {s.best['value']:.4f} at step {s.best['step']}" if s.best else "")
        print(f"{how}: {s.step} steps, epoch {s.epoch}{best}; run in {result.run_dir}")
    return 0
