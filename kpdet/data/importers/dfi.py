"""Disguised Face Identification (DFI, Singh et al. ICCVW 2017) ``joints.mat`` → COCO keypoints.

``joints`` is 14 × 2 × N (x, y in pixels); image ``k.jpg`` (in ``images/`` beside the .mat, or
beside it) goes with ``joints[:, :, k − 1]``. The dataset's README names P8–P10 "right eye"
again; they are the LEFT eye (inner, middle, outer), mirroring P7–P5. "Right" is the subject's
right (image left in these frontal photos). The file has no visibility flag: all points are
v = 2. Coordinates are taken as MATLAB's 1-based pixel indices: kpdet's is ``x − 1``. The face
box is the keypoints' box grown by FACE_BOX_MARGIN of its larger side on each side (the points
span brows to lips, so the forehead and chin need the larger margin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kpdet.data.importers.builder import CocoBuilder, ImageStore, box_from_keypoints, image_size
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError
from kpdet.schema import KeypointSchema

FACE_BOX_MARGIN = 0.25

_NAMES = (
    "right_eyebrow_outer", "right_eyebrow_inner", "left_eyebrow_inner", "left_eyebrow_outer",  # P1-P4
    "right_eye_outer", "right_eye_middle", "right_eye_inner",  # P5-P7
    "left_eye_inner", "left_eye_middle", "left_eye_outer",  # P8-P10
    "nose_tip", "right_mouth_corner", "mouth_middle", "left_mouth_corner",  # P11-P14
)
DFI14 = KeypointSchema(
    "face",
    _NAMES,
    ((0, 1), (2, 3), (4, 5), (5, 6), (7, 8), (8, 9), (6, 10), (7, 10), (10, 12), (11, 12), (12, 13)),
    ((0, 3), (1, 2), (4, 9), (5, 8), (6, 7), (11, 13)),
)


def import_dfi(src: Path, store: ImageStore, options: ImportOptions) -> CocoBuilder:
    import scipy.io

    if src.is_dir() and (src / "joints.mat").is_file():
        src = src / "joints.mat"
    if not src.is_file():
        raise DataError(str(src), "file not found (expected joints.mat or the folder holding it)")
    try:
        mat = scipy.io.loadmat(str(src))
    except (ValueError, OSError, NotImplementedError) as e:
        raise DataError(str(src), f"not a readable MATLAB .mat file: {e}") from None
    joints = mat.get("joints")
    k = DFI14.num_keypoints
    if joints is None or joints.ndim != 3 or joints.shape[:2] != (k, 2):
        raise DataError(str(src), f"expected a variable 'joints' of shape ({k}, 2, N), got "
                        f"{None if joints is None else joints.shape}", field="joints")
    joints = joints.astype(np.float64)
    if not np.isfinite(joints).all():
        raise DataError(str(src), "non-finite coordinates", field="joints")
    folder = src.parent / "images" if (src.parent / "images").is_dir() else src.parent

    builder = CocoBuilder(info={"description": f"imported from DFI {src}"})
    cid = builder.add_category(DFI14.name, list(DFI14.keypoints), DFI14.skeleton, DFI14.flip_pairs)
    for n in range(joints.shape[2]):
        rec = f"joints[:, :, {n}]"
        path = folder / f"{n + 1}.jpg"
        if not path.is_file():
            raise DataError(str(src), f"image not found: {path} (image k.jpg goes with joints[:, :, k-1])", record=rec)
        w, h = image_size(path, str(src), rec)
        image_id = builder.add_image(store.reference(path, path.name), w, h)
        kps = np.concatenate([joints[:, :, n] - 1.0, np.full((k, 1), 2.0)], 1)
        builder.add_instance(image_id, cid, kps, bbox=box_from_keypoints(kps, w, h, margin=FACE_BOX_MARGIN))
    return builder
