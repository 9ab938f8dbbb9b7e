"""Polygon meshes built from a few primitives (boxes, beams, cylinders, rings).

Model frame: x towards the object's LEFT, y up, z towards the object's front. Every face is
a convex planar polygon wound counter-clockwise when seen from outside (the builder orients
each face away from its primitive's centre), so back faces can be culled by their normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Mesh:
    vertices: np.ndarray  # (V, 3)
    faces: list[np.ndarray]  # each (n,) vertex indices, outward winding
    slots: np.ndarray  # (F,) material slot per face
    double: np.ndarray  # (F,) bool: seen from both sides (thin sheets), never culled
    first3: np.ndarray  # (F, 3) first three vertex indices of each face (its plane)
    centroid: np.ndarray  # (F, V) averaging matrix: centroids = centroid @ vertices


class MeshBuilder:
    def __init__(self) -> None:
        self.vertices: list[np.ndarray] = []
        self.faces: list[np.ndarray] = []
        self.slots: list[int] = []
        self.double: list[bool] = []
        self._n = 0

    def add(self, verts: np.ndarray, faces: list[tuple[int, ...]], slots: int | list[int],
            centre: np.ndarray | None = None, double: bool = False) -> None:
        """Add a primitive; faces index ``verts``; each face is turned to point away from ``centre``."""
        verts = np.asarray(verts, np.float64)
        centre = verts.mean(0) if centre is None else np.asarray(centre, np.float64)
        slot_list = [slots] * len(faces) if isinstance(slots, int) else list(slots)
        first = verts[np.array([f[:3] for f in faces])]  # (F, 3, 3) first three corners of each face
        normal = np.cross(first[:, 1] - first[:, 0], first[:, 2] - first[:, 0])
        outward = np.einsum("fd,fd->f", normal, first[:, 0] - centre) >= 0
        for face, slot, out in zip(faces, slot_list, outward):
            idx = np.array(face) if out else np.array(face[::-1])
            self.faces.append(idx + self._n)
            self.slots.append(int(slot))
            self.double.append(double)
        self.vertices.append(verts)
        self._n += len(verts)

    def hexahedron(self, bottom: np.ndarray, top: np.ndarray, slot: int | list[int]) -> None:
        """Eight corners: ``bottom`` and ``top`` (4, 3) in the same cyclic order. Slots: bottom, top, 4 sides."""
        v = np.concatenate([bottom, top])
        faces = [(0, 1, 2, 3), (4, 5, 6, 7)] + [(i, (i + 1) % 4, (i + 1) % 4 + 4, i + 4) for i in range(4)]
        self.add(v, faces, slot)

    def box(self, centre, size, slot: int | list[int]) -> None:
        c, (sx, sy, sz) = np.asarray(centre, np.float64), np.asarray(size, np.float64) / 2
        ring = np.array([[sx, 0, sz], [-sx, 0, sz], [-sx, 0, -sz], [sx, 0, -sz]])
        self.hexahedron(c + ring - [0, sy, 0], c + ring + [0, sy, 0], slot)

    def beam(self, p0, p1, thickness: float, slot: int) -> None:
        """A square bar of side ``thickness`` from p0 to p1."""
        p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
        d = (p1 - p0) / np.linalg.norm(p1 - p0)
        ref = np.array([1.0, 0, 0]) if abs(d[0]) < 0.9 else np.array([0, 1.0, 0])
        u = np.cross(d, ref)
        u /= np.linalg.norm(u)
        w = np.cross(d, u)
        t = thickness / 2
        ring = np.array([t * (a * u + b * w) for a, b in ((1, 1), (-1, 1), (-1, -1), (1, -1))])
        self.hexahedron(p0 + ring, p1 + ring, slot)

    def cylinder(self, centre, r_bottom: float, r_top: float, height: float, slot: int, *, n: int = 12,
                 axis: str = "y", side_slots: list[int] | None = None, caps: tuple[bool, bool] = (True, True),
                 cap_slots: tuple[int, int] | None = None) -> None:
        """A (truncated) cone around ``axis``; ring vertex k sits at angle 2πk/n from +x towards +z
        (axis y) or from +y towards +z (axis x)."""
        a = 2 * np.pi * np.arange(n) / n
        h = height / 2
        bottom = np.stack([r_bottom * np.cos(a), np.full(n, -h), r_bottom * np.sin(a)], 1)
        top = np.stack([r_top * np.cos(a), np.full(n, h), r_top * np.sin(a)], 1)
        v = np.concatenate([bottom, top])
        if axis == "x":
            v = v[:, [1, 0, 2]]
        v = v + np.asarray(centre, np.float64)
        faces = [(k, (k + 1) % n, (k + 1) % n + n, k + n) for k in range(n)]
        slots = list(side_slots) if side_slots is not None else [slot] * n
        cs = cap_slots or (slot, slot)
        if caps[0]:
            faces.append(tuple(range(n)))
            slots.append(cs[0])
        if caps[1]:
            faces.append(tuple(range(n, 2 * n)))
            slots.append(cs[1])
        self.add(v, faces, slots, centre)

    def ring(self, centre, radius: float, width: float, slot: int, n: int = 18) -> None:
        """A tyre: a square-section ring in the y-z plane around ``centre`` (axis x), no end caps."""
        c = np.asarray(centre, np.float64)
        a = 2 * np.pi * np.arange(n + 1) / n
        for k in range(n):
            ang = a[k:k + 2]
            pts = []
            for r in (radius - width / 2, radius + width / 2):
                for x in (-width / 2, width / 2):
                    pts += [[x, r * np.cos(t), r * np.sin(t)] for t in ang]
            v = np.array(pts) + c  # 0,1 inner-left; 2,3 inner-right; 4,5 outer-left; 6,7 outer-right
            mid = c + np.array([0, radius * np.cos(ang.mean()), radius * np.sin(ang.mean())])
            self.add(v, [(0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6)], slot, mid)

    def build(self) -> Mesh:
        v = np.concatenate(self.vertices)
        avg = np.zeros((len(self.faces), len(v)))
        for f, idx in enumerate(self.faces):
            avg[f, idx] = 1.0 / len(idx)
        return Mesh(v, self.faces, np.array(self.slots, np.int64), np.array(self.double, bool),
                    np.array([f[:3] for f in self.faces]), avg)
