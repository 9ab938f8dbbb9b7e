"""`kpdet split ANN.json --out-dir DIR --ranges train=0:90,test=90:116`: subsets by image order."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "split a COCO keypoints file into subsets by image order (e.g. train=0:90,test=90:116)"


def _ranges(text: str) -> dict[str, slice]:
    from kpdet.data.split import parse_ranges

    try:
        return parse_ranges(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ann", type=Path, metavar="ANN.json", help="COCO keypoints JSON (e.g. from `kpdet convert`)")
    parser.add_argument("--out-dir", type=Path, required=True,
                        help="folder for NAME.json per subset; image file names are rewritten relative to it")
    parser.add_argument("--ranges", type=_ranges, required=True, metavar="NAME=A:B,…",
                        help="comma-separated subsets of the file's image order (0-based, STOP excluded; "
                             "an empty end means the first/last image), e.g. train=0:90,test=90:")
    parser.add_argument("--indent", type=int, default=None, help="indent the JSON (default: compact)")


def run(args: argparse.Namespace) -> int:
    from kpdet.data.coco import load_coco
    from kpdet.data.split import write_split

    ds = load_coco(args.ann)
    paths = write_split(ds, args.ranges, args.out_dir, indent=args.indent)
    for name, path in paths.items():
        sub = load_coco(path)  # the file we wrote must read back
        print(f"{path}: {name}, {len(sub.images)} images, {len(sub.annotations)} instances")
    return 0
