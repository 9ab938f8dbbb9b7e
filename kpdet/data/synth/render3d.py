"""Pinhole camera, painter's-algorithm rendering of meshes and the keypoint depth test.

Camera frame: x right, y down, z forward (OpenCV); principal point at the image centre in the
pixel-centre convention of structures.py, so a projected point lands on the pixel grid exactly
as keypoints are labelled. Faces of all meshes in the scene are sorted together by the depth
of their centroid and filled far to near into the image and a face-id map.

Depth test for a keypoint: take the face drawn last at the keypoint's pixel, intersect the
viewing ray through the keypoint with that face's plane, and call the keypoint hidden when the
face is nearer than the keypoint by more than a tolerance. Labels therefore agree with the
rendered picture even where the painter's order is approximate.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kpdet.data.synth.mesh import Mesh
from kpdet.data.synth.raster import SHIFT, fixed


@dataclass
class Camera:
    f: float
    cx: float
    cy: float

    def project(self, pts: np.ndarray) -> np.ndarray:
        """(N, 3) camera points → (N, 2) image points."""
        return np.stack([self.f * pts[:, 0] / pts[:, 2] + self.cx, self.f * pts[:, 1] / pts[:, 2] + self.cy], 1)

    def ray(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) image points → (N, 3) ray directions with z = 1."""
        return np.stack([(uv[:, 0] - self.cx) / self.f, (uv[:, 1] - self.cy) / self.f, np.ones(len(uv))], 1)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Model (y up, front +z) → camera (y down, looking along +z): turn about the model's up axis,
    tilt by ``pitch`` (positive shows the top), roll. yaw = 0 shows the front; a proper rotation
    (no mirror), so the object's left (+x) appears on the image right when it faces the camera."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    flip = np.diag([1.0, -1.0, -1.0])
    return flip @ rz @ rx @ ry


@dataclass
class Placed:
    mesh: Mesh
    vertices: np.ndarray  # (V, 3) camera frame
    colours: list[np.ndarray]  # RGB per material slot
    owner: int  # instance index, or -1 for unlabelled clutter


@dataclass
class FacePlanes:
    normals: np.ndarray  # (F+1, 3) unit normals in camera frame; row 0 = no face
    offsets: np.ndarray  # (F+1,) n · x = offset
    owners: np.ndarray  # (F+1,) instance index per face id, -1 for clutter / no face


def render(image: np.ndarray, items: list[Placed], cam: Camera, light: np.ndarray) -> tuple[np.ndarray, FacePlanes, list[np.ndarray]]:
    """Paint all items; returns the face-id map (H, W) int32 (0 = none), the planes, and per item
    its own silhouette mask (H, W) bool as if rendered alone."""
    h, w = image.shape[:2]
    order_depth, order_item, order_face, order_normal = [], [], [], []
    for it, item in enumerate(items):
        v, mesh = item.vertices, item.mesh
        centre = mesh.centroid @ v  # (F, 3)
        p = v[mesh.first3]  # (F, 3, 3)
        n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        front = np.einsum("fd,fd->f", n, centre) < 0
        n[~front] *= -1.0  # a double-sided face shows its back side
        keep = (front | mesh.double) & (v[:, 2].min() > 1e-3)
        order_depth.append(np.linalg.norm(centre[keep], axis=1))
        order_item.append(np.full(int(keep.sum()), it))
        order_face.append(np.flatnonzero(keep))
        order_normal.append(n[keep])
    depth, item_of, face_of = np.concatenate(order_depth), np.concatenate(order_item), np.concatenate(order_face)
    normal_of = np.concatenate(order_normal).reshape(-1, 3)
    order = np.argsort(-depth, kind="stable")
    projected = [fixed(cam.project(item.vertices)) for item in items]
    face_map = np.zeros((h, w), np.int32)
    solo = [np.zeros((h, w), np.uint8) for _ in items]
    normals = np.zeros((len(order) + 1, 3))
    offsets = np.zeros(len(order) + 1)
    owners = np.full(len(order) + 1, -1, np.int64)
    shades = 0.42 + 0.58 * np.maximum(0.0, -(normal_of @ light))
    for fid, k in enumerate(order, start=1):
        it, fi = int(item_of[k]), int(face_of[k])
        item = items[it]
        idx = item.mesh.faces[fi]
        pts = projected[it][idx]
        colour = item.colours[item.mesh.slots[fi]] * shades[k]
        cv2.fillConvexPoly(image, pts, tuple(float(c) for c in colour), cv2.LINE_AA, SHIFT)
        cv2.polylines(image, [pts], True, tuple(float(c) * 0.7 for c in colour), 1, cv2.LINE_AA, SHIFT)
        cv2.fillConvexPoly(face_map, pts, fid, cv2.LINE_8, SHIFT)
        cv2.fillConvexPoly(solo[it], pts, 1, cv2.LINE_8, SHIFT)
        normals[fid] = normal_of[k]
        offsets[fid] = float(normal_of[k] @ item.vertices[idx[0]])
        owners[fid] = item.owner
    return face_map, FacePlanes(normals, offsets, owners), [s > 0 for s in solo]


def keypoint_visibility(points: np.ndarray, cam: Camera, face_map: np.ndarray, planes: FacePlanes,
                        tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) camera-frame keypoints → (K, 2) image points and (K,) v in {1, 2} (module doc)."""
    uv = cam.project(points)
    h, w = face_map.shape
    cols = np.clip(np.floor(uv[:, 0] + 0.5).astype(np.int64), 0, w - 1)
    rows = np.clip(np.floor(uv[:, 1] + 0.5).astype(np.int64), 0, h - 1)
    fid = face_map[rows, cols]
    ray = cam.ray(uv)
    n = planes.normals[fid]
    denom = np.einsum("kd,kd->k", n, ray)
    safe = np.where(np.abs(denom) > 1e-9, denom, 1.0)
    face_depth = np.where(np.abs(denom) > 1e-9, planes.offsets[fid] / safe, np.inf)
    hidden = (fid > 0) & (face_depth < points[:, 2] - tolerance)
    return uv, np.where(hidden, 1.0, 2.0)
