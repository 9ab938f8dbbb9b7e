"""`kpdet synth figures|objects`: write a synthetic keypoint dataset (no torch)."""

from __future__ import annotations

import argparse
import os
import sys

from kpdet.errors import ConfigError

HELP = "generate a synthetic dataset (people 'figures' or rigid 'objects') as COCO keypoints + images"


def _range(text: str) -> tuple[int, int]:
    try:
        lo, _, hi = text.partition(":")
        lo_i, hi_i = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX integers, got {text!r}") from None
    if lo_i < 0 or hi_i < lo_i:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
    return lo_i, hi_i


def _level(text: str) -> int:
    from kpdet.data.synth.occlusion import parse_level

    try:
        return parse_level(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("generator", choices=("figures", "objects"),
                        help="figures: people with COCO-17 keypoints; objects: 8 rigid categories from 3-D models")
    parser.add_argument("--out", required=True, help="output folder (annotations.json + images/)")
    parser.add_argument("--num-images", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0, help="same arguments and seed give the same bytes")
    parser.add_argument("--size", type=int, default=256, help="image width and height in pixels (default 256)")
    parser.add_argument("--occlusion", type=_level, default=0, metavar="L0|L1|L2|L3",
                        help="paste occluders over 0 / 20-40 / 40-60 / 60-80%% of every instance (default L0)")
    parser.add_argument("--people", type=_range, default=(0, 6), metavar="MIN:MAX",
                        help="figures: people per image (default 0:6)")
    parser.add_argument("--crowding", type=float, default=0.3,
                        help="figures: 0 = people placed anywhere, 1 = pulled together and overlapping (default 0.3)")
    parser.add_argument("--objects", type=_range, default=(1, 4), metavar="MIN:MAX",
                        help="objects: labelled objects per image (default 1:4)")
    parser.add_argument("--distractors", type=_range, default=(0, 3), metavar="MIN:MAX",
                        help="objects: unlabelled 3-D distractor solids per image (default 0:3)")
    parser.add_argument("--categories", default=None,
                        help="objects: comma-separated subset of the categories (default: all)")
    parser.add_argument("--format", choices=("png", "jpg"), default="png",
                        help="image format (default png: lossless, pixels match the measured masks)")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes (default: number of CPUs); the output does not depend on it")


def _config(args: argparse.Namespace):
    if args.num_images < 1:
        raise ConfigError(f"--num-images must be at least 1, got {args.num_images}")
    if args.size < 32:
        raise ConfigError(f"--size must be at least 32 pixels, got {args.size}")
    if args.generator == "figures":
        from kpdet.data.synth.figures import FiguresConfig

        if not 0.0 <= args.crowding <= 1.0:
            raise ConfigError(f"--crowding must lie in [0, 1], got {args.crowding}")
        return FiguresConfig(size=args.size, people=args.people, crowding=args.crowding)
    from kpdet.data.synth.objects import CATEGORY_NAMES, ObjectsConfig

    cats = CATEGORY_NAMES
    if args.categories:
        cats = tuple(c.strip() for c in args.categories.split(",") if c.strip())
        unknown = [c for c in cats if c not in CATEGORY_NAMES]
        if unknown or not cats:
            raise ConfigError(f"--categories: unknown {', '.join(unknown) or '(empty)'}; "
                              f"choose from {', '.join(CATEGORY_NAMES)}")
    if args.objects[1] < 1:
        raise ConfigError("--objects: MAX must be at least 1")
    return ObjectsConfig(size=args.size, objects=args.objects, distractors=args.distractors, categories=cats)


def run(args: argparse.Namespace) -> int:
    from kpdet.data.synth.dataset import generate

    cfg = _config(args)
    workers = args.workers or min(os.cpu_count() or 1, 8)
    if args.num_images < 16:
        workers = 1  # starting processes costs more than it saves
    step = max(1, args.num_images // 10)

    def progress(done: int) -> None:
        if done % step == 0 or done == args.num_images:
            print(f"\rsynth {args.generator}: {done}/{args.num_images} images", end="", file=sys.stderr, flush=True)

    path = generate(args.generator, args.out, args.num_images, args.seed, cfg, args.occlusion,
                    args.format, workers, progress)
    print(file=sys.stderr)
    print(f"wrote {args.num_images} images and {path}")
    return 0
