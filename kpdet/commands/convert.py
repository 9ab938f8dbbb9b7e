"""`kpdet convert FORMAT SRC --out ann.json`: import another labelling format into COCO keypoints."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "import DeepLabCut, SLEAP, YOLO-pose, Labelme, MPII or DFI labels into a COCO keypoints file"

FORMATS = ("dlc", "sleap", "yolo", "labelme", "mpii", "dfi")


def _frames(text: str) -> slice:
    from kpdet.data.importers.options import parse_frames

    try:
        return parse_frames(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=FORMATS, metavar="FORMAT", help=f"source format: {', '.join(FORMATS)}")
    parser.add_argument("src", type=Path, metavar="SRC",
                        help="dlc: CollectedData_*.csv or project folder; sleap: .slp/.pkg.slp; "
                             "yolo: dataset .yaml; labelme: .json file or folder; mpii: json list; dfi: joints.mat")
    parser.add_argument("--out", type=Path, required=True, help="output COCO keypoints JSON (written atomically)")
    parser.add_argument("--images", type=Path, default=None,
                        help="copy images (extract video/package frames) into this folder; default: reference "
                             "images where they are (frames go to images/ beside --out)")
    parser.add_argument("--frames", type=_frames, default=None, metavar="A:B",
                        help="sleap: only labelled frames with video frame index in [A, B)")
    parser.add_argument("--predicted", action="store_true",
                        help="sleap: also import predicted instances (default: user-labelled only)")
    parser.add_argument("--labels", type=Path, default=None,
                        help="yolo: folder of label .txt files (default: the images path with images/ → labels/)")
    parser.add_argument("--split", default=None, help="yolo: import only this split (train/val/test)")
    parser.add_argument("--image-ext", default=".png", choices=(".png", ".jpg"),
                        help="sleap: file type of extracted frames (default .png, lossless)")
    parser.add_argument("--indent", type=int, default=None, help="indent the JSON (default: compact)")


def run(args: argparse.Namespace) -> int:
    from kpdet.data.coco import load_coco, save_coco
    from kpdet.data.importers import IMPORTERS
    from kpdet.data.importers.builder import ImageStore
    from kpdet.data.importers.options import ImportOptions

    options = ImportOptions(frames=args.frames, predicted=args.predicted, labels=args.labels,
                            split=args.split, image_ext=args.image_ext)
    store = ImageStore(args.out, args.images)
    builder = IMPORTERS[args.format](args.src, store, options)
    save_coco(builder.to_dict(), args.out, indent=args.indent)
    ds = load_coco(args.out)  # the file we wrote must read back
    labelled = sum(a["num_keypoints"] for a in ds.annotations)
    print(f"{args.out}: {len(ds.images)} images, {len(ds.annotations)} instances, {labelled} labelled keypoints, "
          f"{len(ds.categories)} categories")
    return 0
