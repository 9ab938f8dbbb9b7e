"""Write a synthetic dataset: ``DIR/annotations.json`` (COCO keypoints) + ``DIR/images/NNNNNN.png``.

Image ``i`` is drawn from its own generator seeded by ``SeedSequence(seed, spawn_key=(i,))``,
so the output is byte-identical for the same arguments whatever the number of worker
processes. PNG is the default image format: lossless, so that the pixels agree exactly
with the masks that ``area``, ``bbox`` and the visibility flags were measured on (JPEG
blurs edges and adds block artefacts a model could learn); JPEG (quality 95) is available
when disk space matters.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from kpdet.data.coco import save_coco
from kpdet.data.images import write_image
from kpdet.data.synth import figures, objects
from kpdet.data.synth.occlusion import LEVEL_RANGES, apply_occluders
from kpdet.data.synth.scene import Scene, to_annotations, visible_enough
from kpdet.data.synth.textures import finish

MIN_VISIBLE_FRACTION = 0.15  # an instance keeps this share of its own area before occluders
MIN_KEYPOINTS_INSIDE = 4
MAX_ATTEMPTS = 60


@dataclass(frozen=True)
class Generator:
    render: Callable[[np.random.Generator, Any], Scene]
    categories: Callable[[Any], list[dict]]


GENERATORS = {
    "figures": Generator(figures.render_scene, lambda cfg: [figures.category()]),
    "objects": Generator(objects.render_scene, objects.categories),
}


def image_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def make_image(kind: str, cfg: Any, level: int, seed: int, index: int) -> tuple[np.ndarray, list[dict]]:
    """(H, W, 3) uint8 RGB image and its annotations (without ids) for image ``index``."""
    gen = GENERATORS[kind]
    rng = image_rng(seed, index)
    for _ in range(MAX_ATTEMPTS):
        scene = gen.render(rng, cfg)
        if not visible_enough(scene, MIN_VISIBLE_FRACTION, MIN_KEYPOINTS_INSIDE):
            continue
        fractions = apply_occluders(rng, scene, level)
        if fractions is None:
            continue
        return finish(scene.image, rng), to_annotations(scene, level, fractions)
    raise RuntimeError(f"synth {kind}: no valid scene for image {index} (seed {seed}) after {MAX_ATTEMPTS} "
                       f"attempts; relax the crowding or occlusion settings")


def _job(args: tuple) -> tuple[int, list[dict]]:
    kind, cfg, level, seed, index, path = args
    image, anns = make_image(kind, cfg, level, seed, index)
    write_image(path, image)
    return index, anns


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def generate(kind: str, out: str | os.PathLike, num_images: int, seed: int, cfg: Any, level: int = 0,
             image_format: str = "png", workers: int = 1, progress: Callable[[int], None] | None = None) -> Path:
    """Write the dataset; returns the path of the annotation file."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown generator {kind!r}; choose one of {', '.join(GENERATORS)}")
    if level not in LEVEL_RANGES:
        raise ValueError(f"occlusion level must be 0..3, got {level}")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    ext = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}[image_format.lower()]
    names = [f"images/{i:06d}.{ext}" for i in range(num_images)]
    jobs = [(kind, cfg, level, seed, i, out / names[i]) for i in range(num_images)]
    results: list[list[dict]] = [[] for _ in range(num_images)]
    if workers > 1 and num_images > 1:
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
            for done, (i, anns) in enumerate(pool.imap_unordered(_job, jobs, chunksize=4), start=1):
                results[i] = anns
                if progress:
                    progress(done)
    else:
        for done, job in enumerate(jobs, start=1):
            i, anns = _job(job)
            results[i] = anns
            if progress:
                progress(done)
    images, annotations = [], []
    for i, anns in enumerate(results):
        images.append({"id": i + 1, "file_name": names[i], "width": cfg.size, "height": cfg.size})
        for a in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **a})
    info = {"description": f"kpdet synthetic '{kind}' dataset", "generator": kind, "seed": seed,
            "num_images": num_images, "occlusion_level": level,
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}}
    path = out / "annotations.json"
    save_coco({"info": info, "images": images, "annotations": annotations,
               "categories": GENERATORS[kind].categories(cfg)}, path)
    return path
