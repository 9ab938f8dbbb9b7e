"""`kpdet …` commands.

Each command lives in ``kpdet/commands/<name>.py`` with ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``. Command modules import heavy libraries (torch) inside ``run``,
so that reading commands (`eval`, `convert`, `show`) start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

# command name -> module; the order is the order of `kpdet --help`
COMMANDS = (
    "demo", "synth", "convert", "split", "show", "eval",
    "train", "test", "predict", "models", "export",
)


def _available() -> dict[str, object]:
    mods = {}
    for name in COMMANDS:
        try:
            mods[name] = importlib.import_module(f"kpdet.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"kpdet.commands.{name}":
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpdet", description="Keypoint detection toolkit.")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, mod in _available().items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from kpdet.errors import KpdetError

    args = build_parser().parse_args(argv)
    warnings.simplefilter("default")
    try:
        return int(args._run(args) or 0)
    except KpdetError as e:
        if args.traceback:
            raise
        print(f"kpdet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kpdet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
