"""`objects`: several rigid objects of eight categories, rendered from 3-D models.

Each object gets a random 3-D pose (yaw over the full circle, some pitch and roll) in front of
a pinhole camera; unlabelled distractor solids and flat clutter shapes fill the background.
All faces are painted far to near (render3d.py) and keypoint visibility comes from the depth
test there: a keypoint behind a face of its own object or of any nearer solid gets v = 1.
Each annotation also carries the object's ``viewpoint`` (azimuth, elevation, in-plane angle, degrees).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kpdet.data.synth.mesh import Mesh, MeshBuilder
from kpdet.data.synth.models import CATEGORIES, Category
from kpdet.data.synth.render3d import Camera, Placed, keypoint_visibility, render, rotation
from kpdet.data.synth.scene import Scene, SceneInstance, mask_box
from kpdet.data.synth.textures import background, pattern, random_colour

CATEGORY_NAMES = tuple(c.name for c in CATEGORIES)


@dataclass
class ObjectsConfig:
    size: int = 256
    objects: tuple[int, int] = (1, 4)
    distractors: tuple[int, int] = (0, 3)
    categories: tuple[str, ...] = CATEGORY_NAMES  # a subset keeps the ids of the full list


def categories(cfg: ObjectsConfig) -> list[dict]:
    return [c.schema().to_category(i + 1, "object") for i, c in enumerate(CATEGORIES) if c.name in cfg.categories]


def _clutter(rng: np.random.Generator, image: np.ndarray) -> None:
    """Flat random shapes on the background: polygons, ellipses and lines."""
    s = image.shape[0]
    for _ in range(int(rng.integers(2, 9))):
        colour = tuple(float(c) for c in random_colour(rng))
        kind = int(rng.integers(3))
        c = rng.uniform(0, s, 2).astype(int)
        r = int(rng.uniform(0.04, 0.2) * s)
        if kind == 0:
            a = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 7))))
            pts = c + r * np.stack([np.cos(a), np.sin(a)], 1)
            cv2.fillConvexPoly(image, pts.astype(np.int32), colour, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(image, (int(c[0]), int(c[1])), (r, max(2, int(r * rng.uniform(0.3, 1)))),
                        float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        else:
            d = rng.uniform(-1, 1, 2) * r
            cv2.line(image, (int(c[0]), int(c[1])), (int(c[0] + d[0]), int(c[1] + d[1])), colour,
                     int(rng.integers(1, 6)), cv2.LINE_AA)


def _distractor(rng: np.random.Generator):
    b = MeshBuilder()
    kind = int(rng.integers(3))
    if kind == 0:
        b.box((0, 0, 0), rng.uniform(0.3, 1.5, 3), 0)
    elif kind == 1:
        r = rng.uniform(0.2, 0.6)
        b.cylinder((0, 0, 0), r, r * rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.5), 0, n=10)
    else:
        b.beam((0, -0.6, 0), (0, 0.6, 0), rng.uniform(0.1, 0.3), 0)
        b.box((0, 0.6, 0), rng.uniform(0.3, 0.9, 3), 1)
    return b.build(), [random_colour(rng), random_colour(rng)]


def _pose(rng: np.random.Generator, cam: Camera, radius: float, size: int):
    """Yaw over the full circle, mostly looking down a little; a projected diameter of 30-75 % of the image."""
    yaw, pitch, roll = rng.uniform(0, 2 * np.pi), rng.uniform(-0.1, 0.65), rng.normal(0, 0.08)
    depth = cam.f * 2 * radius / (size * rng.uniform(0.3, 0.75))
    u0, v0 = rng.uniform(0.12, 0.88, 2) * size
    t = np.array([(u0 - cam.cx) * depth / cam.f, (v0 - cam.cy) * depth / cam.f, depth])
    return (float(yaw), float(pitch), float(roll)), t


@dataclass
class PlacedObject:
    category: int  # index into CATEGORIES
    mesh: Mesh
    keypoints: np.ndarray  # (K, 3) model frame
    colours: list[np.ndarray]
    angles: tuple[float, float, float]  # yaw, pitch, roll (radians)
    translation: np.ndarray  # (3,) camera frame position of the model's bounding-box centre


def _centred(mesh: Mesh) -> tuple[np.ndarray, float]:
    centre = 0.5 * (mesh.vertices.min(0) + mesh.vertices.max(0))
    return centre, float(np.linalg.norm(mesh.vertices - centre, axis=1).max())


def render_scene(rng: np.random.Generator, cfg: ObjectsConfig) -> Scene:
    s = cfg.size
    image = background(rng, s, s)
    _clutter(rng, image)
    cam = Camera(s * rng.uniform(1.2, 2.0), (s - 1) / 2, (s - 1) / 2)
    allowed = [i for i, c in enumerate(CATEGORIES) if c.name in cfg.categories]
    objects, clutter = [], []
    for _ in range(int(rng.integers(cfg.objects[0], cfg.objects[1] + 1))):
        ci = allowed[int(rng.integers(len(allowed)))]
        mesh, kps, colours = CATEGORIES[ci].build(rng)
        angles, t = _pose(rng, cam, _centred(mesh)[1], s)
        objects.append(PlacedObject(ci, mesh, kps, colours, angles, t))
    for _ in range(int(rng.integers(cfg.distractors[0], cfg.distractors[1] + 1))):
        mesh, colours = _distractor(rng)
        angles, t = _pose(rng, cam, _centred(mesh)[1] * 1.5, s)
        clutter.append(PlacedObject(-1, mesh, np.zeros((0, 3)), colours, angles, t))
    return render_objects(rng, image, cam, objects, clutter)


def render_objects(rng: np.random.Generator, image: np.ndarray, cam: Camera, objects: list[PlacedObject],
                   clutter: list[PlacedObject]) -> Scene:
    """Render labelled ``objects`` and unlabelled ``clutter`` solids over ``image`` (modified in place)."""
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(0.3, 1.0), rng.uniform(0.2, 1.0)])
    light /= np.linalg.norm(light)
    items, kps_cam = [], []
    for owner, obj in [(i, o) for i, o in enumerate(objects)] + [(-1, o) for o in clutter]:
        centre, _ = _centred(obj.mesh)
        rot = rotation(*obj.angles)
        items.append(Placed(obj.mesh, (obj.mesh.vertices - centre) @ rot.T + obj.translation, obj.colours, owner))
        kps_cam.append((obj.keypoints - centre) @ rot.T + obj.translation)
    face_map, planes, solo = render(image, items, cam, light)
    owner = planes.owners[face_map].astype(np.int32)
    instances = []
    for i, obj in enumerate(objects):
        cat: Category = CATEGORIES[obj.category]
        uv, v = keypoint_visibility(kps_cam[i], cam, face_map, planes, cat.tolerance)
        if rng.random() < 0.5:  # surface texture: wood grain, speckle, stripes…
            x, y, bw, bh = (int(round(c)) for c in mask_box(solo[i]))
            roi, m = image[y:y + bh, x:x + bw], owner[y:y + bh, x:x + bw] == i
            tex = 0.82 + 0.36 * pattern(rng, bh, bw)
            roi[m] = np.clip(roi[m] * tex[m][:, None], 0, 255).astype(np.uint8)
        yaw, pitch, roll = (round(float(np.degrees(a)), 2) for a in obj.angles)
        instances.append(SceneInstance(obj.category + 1, np.concatenate([uv, v[:, None]], 1),
                                       float(obj.translation[2]), int(solo[i].sum()), mask_box(solo[i]),
                                       obj.colours[0], {"viewpoint": {"azimuth": yaw, "elevation": pitch,
                                                                      "theta": roll}}))
    return Scene(image, owner, instances)
