"""`kpdet export`: write a trained run's forward pass as an ONNX model, ready for ONNX Runtime."""

from __future__ import annotations

import argparse

HELP = "export a trained run to ONNX (the forward pass; `kpdet.load(model.onnx)` decodes as PyTorch does)"
FORMATS = ("onnx",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory written by `kpdet train` (or one of its .pt files)")
    parser.add_argument("--format", default="onnx", help=f"export format: {', '.join(FORMATS)} (default onnx)")
    parser.add_argument("--out", required=True, metavar="FILE", help="file to write (e.g. model.onnx)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="which checkpoint of a run directory (default best)")
    parser.add_argument("--dynamic-batch", action="store_true",
                        help="any batch size (default: batches of 1; the predictor splits larger ones)")
    parser.add_argument("--fixed-size", action="store_true",
                        help="fix the input to the preset's size (default: any height and width the model takes)")
    parser.add_argument("--simplify", action="store_true", help="simplify the graph with onnxsim")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")


def run(args: argparse.Namespace) -> int:
    from kpdet.errors import ConfigError

    if args.format not in FORMATS:
        raise ConfigError(f"unknown export format '{args.format}'; available: {', '.join(FORMATS)}")
    from kpdet.engine.restore import load_trained
    from kpdet.export.onnx_export import OPSET, check_output_path, export_onnx, require_onnxsim

    out = check_output_path(args.out)  # before the (slow) model load
    if args.simplify:
        require_onnxsim()
    trained = load_trained(args.run, checkpoint=args.checkpoint)
    path = export_onnx(trained.method, out, dynamic_batch=args.dynamic_batch, dynamic_size=not args.fixed_size,
                       simplify=args.simplify, opset=args.opset or OPSET,
                       source={"checkpoint": str(trained.checkpoint), "step": trained.step})
    size = path.stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB, {trained.cfg.method.name}, from {trained.checkpoint.name} "
          f"step {trained.step}); predict with `kpdet predict {path} --images …` or kpdet.load('{path}')")
    return 0
