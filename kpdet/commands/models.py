"""`kpdet models`: the registered methods and their presets, with parameter counts and GFLOPs."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "list methods and presets (configs/<method>/*.yaml) with parameters and GFLOPs"

# GFLOPs follow the "one multiply-add = 2 FLOPs" convention of torch.utils.flop_counter;
# many papers report multiply-adds (GMACs) as "GFLOPs": halve our figure to compare.
FLOPS_NOTE = "GFLOPs: torch FlopCounterMode on the preset's example_input, 1 multiply-add = 2 FLOPs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configs", metavar="DIR", default=None,
                        help="preset folder (default: the configs/ folder beside the kpdet package)")
    parser.add_argument("--method", default=None, help="only this method")
    parser.add_argument("--schema", default="coco17",
                        help="built-in keypoint schema the models are built for (default coco17)")
    parser.add_argument("--no-flops", action="store_true", help="skip the FLOP count (faster)")


def default_configs_dir() -> Path:
    import kpdet

    return Path(kpdet.__file__).resolve().parents[1] / "configs"


def find_presets(configs: Path, method: str) -> list[Path]:
    return sorted((configs / method).glob("**/*.yaml")) if (configs / method).is_dir() else []


def measure(cfg, schemas, *, flops: bool) -> tuple[int, float | None, tuple[int, ...]]:
    """(parameters, GFLOPs or None, input shape) of the method built from ``cfg``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from kpdet.methods import get_method

    cls = get_method(cfg.method.name)
    model = cls.from_config(cfg.method, schemas).eval()
    params = sum(p.numel() for p in model.parameters())
    x = cls.example_input(cfg.method)
    gflops = None
    if flops:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(x)
        gflops = counter.get_total_flops() / 1e9
    return params, gflops, tuple(x.shape)


def run(args: argparse.Namespace) -> int:
    from kpdet.config import load_config
    from kpdet.errors import ConfigError, KpdetError
    from kpdet.methods import get_method, method_names
    from kpdet.schema import builtin_schema

    try:
        schemas = {1: builtin_schema(args.schema)}
    except KeyError as e:
        raise ConfigError(str(e.args[0])) from None
    configs = Path(args.configs) if args.configs else default_configs_dir()
    names = [args.method] if args.method else method_names()
    print(f"{'method/preset':<36} {'params (M)':>11} {'GFLOPs':>9}  input")
    for name in names:
        try:
            get_method(name)
        except (ImportError, KpdetError) as e:
            print(f"{name:<36} unavailable: {e}")
            continue
        presets = find_presets(configs, name)
        if not presets:
            print(f"{name:<36} (no presets in {configs / name})")
        for path in presets:
            label = f"{name}/{path.relative_to(configs / name).with_suffix('')}"
            try:
                cfg = load_config(path, resolve_paths=False)
                params, gflops, shape = measure(cfg, schemas, flops=not args.no_flops)
            except KpdetError as e:
                print(f"{label:<36} invalid preset: {e}")
                continue
            g = "-" if gflops is None else f"{gflops:.4g}"
            print(f"{label:<36} {params / 1e6:>11.3f} {g:>9}  {'x'.join(map(str, shape))}")
    print(f"({FLOPS_NOTE}; models built for the '{args.schema}' keypoint schema)")
    return 0
