"""Importers: other labelling formats → kpdet's COCO keypoints layout (`kpdet convert`).

One module per format; each exposes ``import_<format>(src, store, options) -> CocoBuilder``.
:data:`IMPORTERS` is the only place that maps a format name to its function.
"""

from __future__ import annotations

from kpdet.data.importers.dfi import import_dfi
from kpdet.data.importers.dlc import import_dlc
from kpdet.data.importers.labelme import import_labelme
from kpdet.data.importers.mpii import import_mpii
from kpdet.data.importers.sleap import import_sleap
from kpdet.data.importers.yolo import import_yolo

IMPORTERS = {
    "dlc": import_dlc,
    "sleap": import_sleap,
    "yolo": import_yolo,
    "labelme": import_labelme,
    "mpii": import_mpii,
    "dfi": import_dfi,
}
