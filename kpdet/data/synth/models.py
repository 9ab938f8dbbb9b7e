"""Eight rigid object categories: a 3-D model with random proportions and named 3-D keypoints each.

Model frame as in mesh.py (x = the object's left, y up, z = its front). Keypoint names use
``left_``/``right_`` prefixes for mirror pairs, so flip pairs follow from the names. Every
model has a feature that tells front from back (door, drawer, backrest, lights, label,
handle, screen, handlebar), so that keypoint labels are not ambiguous under a half turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from kpdet.data.synth.mesh import Mesh, MeshBuilder
from kpdet.data.synth.textures import random_colour
from kpdet.schema import KeypointSchema, infer_flip_pairs

Build = Callable[[np.random.Generator], tuple[Mesh, np.ndarray, list[np.ndarray]]]


@dataclass(frozen=True)
class Category:
    name: str
    keypoints: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]
    build: Build
    tolerance: float  # depth-test tolerance in model units (about half the thinnest part a keypoint sits in)
    sigma: float = 0.06  # OKS sigma per keypoint

    def schema(self) -> KeypointSchema:
        index = {n: i for i, n in enumerate(self.keypoints)}
        return KeypointSchema(self.name, self.keypoints, tuple((index[a], index[b]) for a, b in self.skeleton),
                              infer_flip_pairs(self.keypoints), (self.sigma,) * len(self.keypoints))


def _grey(rng, lo=0.1, hi=0.9) -> np.ndarray:
    return np.full(3, rng.uniform(lo, hi) * 255.0, np.float32)


def _cabinet(rng):
    w, h, d = rng.uniform(0.6, 1.2), rng.uniform(0.8, 1.8), rng.uniform(0.4, 0.7)
    b = MeshBuilder()
    b.box((0, h / 2, 0), (w, h, d), 0)
    b.box((0, h / 2, d / 2 + 0.01), (w * 0.86, h * 0.88, 0.02), 1)
    b.box((-w * 0.32, h * 0.5, d / 2 + 0.035), (0.03, h * 0.15, 0.03), 2)
    kps = [[sx * w / 2, y, sz * d / 2] for sx in (1, -1) for sz in (1, -1) for y in (h, 0)]
    body = random_colour(rng)
    return b.build(), np.array(kps), [body, body * rng.uniform(0.6, 0.85), _grey(rng, 0.6, 0.9)]


_BOX_NAMES = tuple(f"{s}_{fb}_{tb}" for s in ("left", "right") for fb in ("front", "back") for tb in ("top", "bottom"))
_BOX_EDGES = tuple((f"{s}_{fb}_top", f"{s}_{fb}_bottom") for s in ("left", "right") for fb in ("front", "back")) + \
    tuple((f"left_{fb}_{tb}", f"right_{fb}_{tb}") for fb in ("front", "back") for tb in ("top", "bottom")) + \
    tuple((f"{s}_front_{tb}", f"{s}_back_{tb}") for s in ("left", "right") for tb in ("top", "bottom"))


def _table(rng):
    w, d, h, t, leg = rng.uniform(1.0, 1.6), rng.uniform(0.6, 1.0), rng.uniform(0.65, 0.8), 0.05, 0.06
    b = MeshBuilder()
    b.box((0, h - t / 2, 0), (w, t, d), 0)
    lx, lz = w / 2 - leg, d / 2 - leg
    for sx in (1, -1):
        for sz in (1, -1):
            b.box((sx * lx, (h - t) / 2, sz * lz), (leg, h - t, leg), 1)
    b.box((0, h - t - 0.06, d / 2 - 0.04), (w * 0.45, 0.12, 0.02), 2)
    b.box((0, h - t - 0.06, d / 2 - 0.02), (0.08, 0.025, 0.025), 3)
    kps = [[sx * w / 2, h, sz * d / 2] for sx in (1, -1) for sz in (1, -1)]
    kps += [[sx * lx, 0.0, sz * lz] for sx in (1, -1) for sz in (1, -1)]
    wood = random_colour(rng, sat=(0.3, 0.7), val=(0.3, 0.8))
    return b.build(), np.array(kps), [wood, wood * 0.8, wood * 1.15, _grey(rng, 0.1, 0.4)]


def _chair(rng):
    s, hs, hb, t, leg = rng.uniform(0.4, 0.5), rng.uniform(0.42, 0.5), rng.uniform(0.35, 0.5), 0.05, 0.04
    b = MeshBuilder()
    b.box((0, hs - t / 2, 0), (s, t, s), 2)
    lo = s / 2 - leg / 2
    for sx in (1, -1):
        for sz in (1, -1):
            b.box((sx * lo, (hs - t) / 2, sz * lo), (leg, hs - t, leg), 1)
    b.box((0, hs + hb / 2, -s / 2 + 0.02), (s, hb, 0.04), 0)
    kps = [[sx * s / 2, hs, sz * s / 2] for sx in (1, -1) for sz in (1, -1)]
    kps += [[sx * lo, 0.0, sz * lo] for sx in (1, -1) for sz in (1, -1)]
    kps += [[sx * s / 2, hs + hb, -s / 2 + 0.04] for sx in (1, -1)]
    frame = random_colour(rng)
    return b.build(), np.array(kps), [frame, frame * 0.7, random_colour(rng)]


def _car(rng):
    length, width = rng.uniform(3.8, 4.6), rng.uniform(1.6, 1.9)
    g, hb, hc, rw = 0.2, rng.uniform(0.55, 0.75), rng.uniform(0.45, 0.6), rng.uniform(0.3, 0.36)
    b = MeshBuilder()
    b.box((0, g + hb / 2, 0), (width, hb, length), 0)
    y0, y1 = g + hb, g + hb + hc
    zf0, zb0, zf1, zb1 = length * 0.22, -length * 0.36, length * 0.04, -length * 0.28
    xb, xt = width / 2 * 0.95, width / 2 * 0.8
    bottom = np.array([[xb, y0, zf0], [-xb, y0, zf0], [-xb, y0, zb0], [xb, y0, zb0]])
    top = np.array([[xt, y1, zf1], [-xt, y1, zf1], [-xt, y1, zb1], [xt, y1, zb1]])
    b.hexahedron(bottom, top, [0, 0, 1, 1, 1, 1])
    wx, wz = width / 2 - 0.05, length * 0.32
    for sx in (1, -1):
        for sz in (1, -1):
            b.cylinder((sx * wx, rw, sz * wz), rw, rw, 0.22, 2, axis="x", n=12)
            b.cylinder((sx * wx, rw, sz * wz), rw * 0.55, rw * 0.55, 0.24, 3, axis="x", n=8)
    ly = g + hb * 0.7
    for sx in (1, -1):
        b.box((sx * width * 0.32, ly, length / 2 + 0.015), (0.32, 0.13, 0.03), 4)
        b.box((sx * width * 0.34, ly, -length / 2 - 0.015), (0.28, 0.13, 0.03), 5)
    kps = [[sx * (wx + 0.12), rw, sz * wz] for sx in (1, -1) for sz in (1, -1)]
    kps += [[sx * width * 0.32, ly, length / 2 + 0.03] for sx in (1, -1)]
    kps += [[sx * width * 0.34, ly, -length / 2 - 0.03] for sx in (1, -1)]
    kps += [[sx * xt, y1, z] for sx in (1, -1) for z in (zf1, zb1)]
    glass = np.array([60, 80, 110], np.float32) * rng.uniform(0.6, 1.2)
    cols = [random_colour(rng), glass, _grey(rng, 0.05, 0.15), _grey(rng, 0.5, 0.85),
            np.array([250, 245, 200], np.float32), np.array([210, 30, 30], np.float32)]
    return b.build(), np.array(kps), cols


def _bottle(rng):
    rb, hb = rng.uniform(0.035, 0.05), rng.uniform(0.14, 0.22)
    rn, hs, hn = rb * rng.uniform(0.3, 0.45), rng.uniform(0.03, 0.06), rng.uniform(0.03, 0.06)
    n = 12
    b = MeshBuilder()
    y_lab0, y_lab1 = hb * 0.25, hb * 0.85
    b.cylinder((0, y_lab0 / 2, 0), rb, rb, y_lab0, 0, n=n, caps=(True, False))
    front = [1 if abs(((k + 0.5) / n * 360) - 90) <= 65 else 0 for k in range(n)]
    b.cylinder((0, (y_lab0 + y_lab1) / 2, 0), rb, rb, y_lab1 - y_lab0, 0, n=n, side_slots=front, caps=(False, False))
    b.cylinder((0, (y_lab1 + hb) / 2, 0), rb, rb, hb - y_lab1, 0, n=n, caps=(False, False))
    b.cylinder((0, hb + hs / 2, 0), rb, rn, hs, 0, n=n, caps=(False, False))
    b.cylinder((0, hb + hs + hn / 2, 0), rn, rn, hn, 0, n=n, caps=(False, False))
    top = hb + hs + hn
    b.cylinder((0, top + 0.01, 0), rn * 1.2, rn * 1.2, 0.02, 2, n=n)
    kps = [[0, top + 0.02, 0], [rn, top, 0], [-rn, top, 0], [rb, 0, 0], [-rb, 0, 0], [0, y_lab1, rb], [0, y_lab0, rb]]
    glass = [np.array(c, np.float32) for c in ([40, 120, 50], [120, 70, 20], [150, 190, 210], [30, 60, 140])]
    return b.build(), np.array(kps), [glass[rng.integers(4)] * rng.uniform(0.8, 1.2), random_colour(rng),
                                      random_colour(rng)]


def _mug(rng):
    r, h, t = rng.uniform(0.04, 0.05), rng.uniform(0.08, 0.11), 0.012
    b = MeshBuilder()
    b.cylinder((0, h / 2, 0), r, r, h, 0, n=12, cap_slots=(0, 1))
    zo = r + 0.032
    b.beam((0, h * 0.8, r - 0.004), (0, h * 0.8, zo), t, 0)
    b.beam((0, h * 0.8 + t / 2, zo - t / 2), (0, h * 0.2 - t / 2, zo - t / 2), t, 0)
    b.beam((0, h * 0.2, zo), (0, h * 0.2, r - 0.004), t, 0)
    kps = [[0, h * 0.8 + t / 2, zo], [0, h * 0.2 - t / 2, zo], [r, h, 0], [-r, h, 0], [0, h, -r], [r, 0, 0], [-r, 0, 0]]
    body = random_colour(rng)
    return b.build(), np.array(kps), [body, np.array([60, 35, 20], np.float32) * rng.uniform(0.7, 1.3)]


def _monitor(rng):
    sw = rng.uniform(0.5, 0.75)
    sh, hn, bw, bd = sw * rng.uniform(0.55, 0.65), rng.uniform(0.08, 0.15), rng.uniform(0.2, 0.3), 0.18
    yb = 0.02 + hn
    b = MeshBuilder()
    b.box((0, yb + sh / 2, 0), (sw, sh, 0.04), 0)
    b.box((0, yb + sh / 2, 0.021), (sw * 0.93, sh * 0.88, 0.004), 1)
    b.box((0, (0.02 + yb + sh * 0.4) / 2, -0.035), (0.05, yb + sh * 0.4 - 0.02, 0.03), 0)
    b.box((0, 0.01, 0), (bw, 0.02, bd), 0)
    kps = [[sx * sw / 2, y, 0.02] for y in (yb + sh, yb) for sx in (1, -1)]
    kps += [[sx * bw / 2, 0.02, z] for z in (bd / 2, -bd / 2) for sx in (1, -1)]
    screen = random_colour(rng, sat=(0.3, 0.9), val=(0.1, 0.45))
    return b.build(), np.array(kps), [_grey(rng, 0.05, 0.85), screen]


def _bicycle(rng):
    rw, wb = rng.uniform(0.32, 0.36), rng.uniform(1.0, 1.1)
    front, back = np.array([0, rw, wb / 2]), np.array([0, rw, -wb / 2])
    crank, seat = np.array([0, 0.3, -0.05]), np.array([0, 0.78, -0.22])
    head, head_low = np.array([0, 0.82, 0.33]), np.array([0, 0.62, 0.38])
    bar = head + [0, 0.08, -0.03]
    b = MeshBuilder()
    for c in (front, back):
        b.ring(c, rw, 0.04, 0, n=18)
        b.cylinder(c, 0.03, 0.03, 0.08, 2, axis="x", n=8)
    for p, q in ((crank, seat), (seat, head), (crank, head_low), (head_low, head), (head_low, front),
                 (crank, back), (seat, back), (head, bar)):
        b.beam(p, q, 0.035, 1)
    b.beam(bar + [0.25, 0, 0], bar - [0.25, 0, 0], 0.03, 3)
    b.box(seat + [0, 0.04, 0], (0.12, 0.04, 0.22), 3)
    pedal_l, pedal_r = crank + [0.1, -0.13, 0.05], crank + [-0.1, 0.13, -0.05]
    for p in (pedal_l, pedal_r):
        b.beam(crank, p, 0.025, 2)
        b.box(p + [np.sign(p[0]) * 0.04, 0, 0], (0.08, 0.02, 0.06), 3)
    kps = [front, back, bar + [0.25, 0, 0], bar - [0.25, 0, 0], seat + [0, 0.06, 0], crank, head,
           pedal_l + [0.04, 0.01, 0], pedal_r + [-0.04, 0.01, 0]]
    return b.build(), np.array(kps), [_grey(rng, 0.02, 0.12), random_colour(rng), _grey(rng, 0.5, 0.8),
                                      _grey(rng, 0.05, 0.25)]


CATEGORIES: tuple[Category, ...] = (
    Category("cabinet", _BOX_NAMES, _BOX_EDGES, _cabinet, 0.03),
    Category("table", ("left_front_top", "left_back_top", "right_front_top", "right_back_top",
                       "left_front_foot", "left_back_foot", "right_front_foot", "right_back_foot"),
             (("left_front_top", "right_front_top"), ("right_front_top", "right_back_top"),
              ("right_back_top", "left_back_top"), ("left_back_top", "left_front_top"),
              ("left_front_top", "left_front_foot"), ("left_back_top", "left_back_foot"),
              ("right_front_top", "right_front_foot"), ("right_back_top", "right_back_foot")), _table, 0.04),
    Category("chair", ("left_front_seat", "left_back_seat", "right_front_seat", "right_back_seat",
                       "left_front_foot", "left_back_foot", "right_front_foot", "right_back_foot",
                       "left_back_top", "right_back_top"),
             (("left_front_seat", "right_front_seat"), ("right_front_seat", "right_back_seat"),
              ("right_back_seat", "left_back_seat"), ("left_back_seat", "left_front_seat"),
              ("left_front_seat", "left_front_foot"), ("left_back_seat", "left_back_foot"),
              ("right_front_seat", "right_front_foot"), ("right_back_seat", "right_back_foot"),
              ("left_back_seat", "left_back_top"), ("right_back_seat", "right_back_top"),
              ("left_back_top", "right_back_top")), _chair, 0.03),
    Category("car", ("left_front_wheel", "left_back_wheel", "right_front_wheel", "right_back_wheel",
                     "left_headlight", "right_headlight", "left_taillight", "right_taillight",
                     "left_front_roof", "left_back_roof", "right_front_roof", "right_back_roof"),
             (("left_front_wheel", "left_back_wheel"), ("right_front_wheel", "right_back_wheel"),
              ("left_front_wheel", "left_headlight"), ("right_front_wheel", "right_headlight"),
              ("left_back_wheel", "left_taillight"), ("right_back_wheel", "right_taillight"),
              ("left_headlight", "right_headlight"), ("left_taillight", "right_taillight"),
              ("left_front_roof", "right_front_roof"), ("left_back_roof", "right_back_roof"),
              ("left_front_roof", "left_back_roof"), ("right_front_roof", "right_back_roof"),
              ("left_front_roof", "left_headlight"), ("right_front_roof", "right_headlight"),
              ("left_back_roof", "left_taillight"), ("right_back_roof", "right_taillight")), _car, 0.06),
    Category("bottle", ("cap_top", "left_neck", "right_neck", "left_base", "right_base", "label_top", "label_bottom"),
             (("cap_top", "left_neck"), ("cap_top", "right_neck"), ("left_neck", "left_base"),
              ("right_neck", "right_base"), ("left_base", "right_base"), ("label_top", "label_bottom")),
             _bottle, 0.004),
    Category("mug", ("handle_top", "handle_bottom", "left_rim", "right_rim", "back_rim", "left_base", "right_base"),
             (("handle_top", "handle_bottom"), ("left_rim", "back_rim"), ("back_rim", "right_rim"),
              ("left_rim", "left_base"), ("right_rim", "right_base"), ("left_base", "right_base"),
              ("left_rim", "handle_top"), ("right_rim", "handle_top")), _mug, 0.004),
    Category("monitor", ("left_screen_top", "right_screen_top", "left_screen_bottom", "right_screen_bottom",
                         "left_base_front", "right_base_front", "left_base_back", "right_base_back"),
             (("left_screen_top", "right_screen_top"), ("right_screen_top", "right_screen_bottom"),
              ("right_screen_bottom", "left_screen_bottom"), ("left_screen_bottom", "left_screen_top"),
              ("left_base_front", "right_base_front"), ("right_base_front", "right_base_back"),
              ("right_base_back", "left_base_back"), ("left_base_back", "left_base_front"),
              ("left_screen_bottom", "left_base_back"), ("right_screen_bottom", "right_base_back")), _monitor, 0.012),
    Category("bicycle", ("front_wheel_center", "back_wheel_center", "left_handlebar", "right_handlebar", "seat",
                         "crank", "head_tube", "left_pedal", "right_pedal"),
             (("back_wheel_center", "crank"), ("crank", "seat"), ("seat", "back_wheel_center"),
              ("seat", "head_tube"), ("crank", "head_tube"), ("head_tube", "front_wheel_center"),
              ("head_tube", "left_handlebar"), ("head_tube", "right_handlebar"),
              ("crank", "left_pedal"), ("crank", "right_pedal")), _bicycle, 0.05, sigma=0.07),
)
