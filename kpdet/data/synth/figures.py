"""`figures`: articulated people with the COCO-17 keypoints on textured backgrounds.

Each person is a posed 3-D stick body (body.py) drawn as shaded capsules and polygons,
part by part in depth order (painter's algorithm), into the image and a part-label map.
People are drawn from far to near. Visibility of a keypoint (v = 1 hidden, v = 2 visible):
* covered by a nearer person's part → hidden;
* covered by one of the person's own parts that is not attached to the keypoint and lies
  nearer than the keypoint by more than a tolerance (far arm behind the torso in profile,
  a hand in front of the face) → hidden;
* a face point (nose, eyes, ears) whose surface normal turns away from the camera → hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kpdet.data.synth import body as B
from kpdet.data.synth.raster import capsule_polygon, disc, fill, shaded_capsule, shaded_polygon
from kpdet.data.synth.scene import BACKGROUND, Scene, SceneInstance, mask_box
from kpdet.data.synth.textures import background, random_colour
from kpdet.schema import COCO17

PARTS = ("torso", "pelvis", "neck", "head", "l_upper_arm", "r_upper_arm", "l_forearm", "r_forearm",
         "l_hand", "r_hand", "l_thigh", "r_thigh", "l_shin", "r_shin", "l_foot", "r_foot")
P = {name: i for i, name in enumerate(PARTS)}
NPARTS = len(PARTS)

# parts whose pixels never hide the keypoint (the keypoint sits on them)
ATTACHED: dict[int, tuple[int, ...]] = {
    **{k: (P["head"],) for k in B.FACE},
    B.L_SHO: (P["l_upper_arm"],), B.R_SHO: (P["r_upper_arm"],),
    B.L_ELB: (P["l_upper_arm"], P["l_forearm"]), B.R_ELB: (P["r_upper_arm"], P["r_forearm"]),
    B.L_WRI: (P["l_forearm"], P["l_hand"]), B.R_WRI: (P["r_forearm"], P["r_hand"]),
    B.L_HIP: (P["l_thigh"],), B.R_HIP: (P["r_thigh"],),
    B.L_KNE: (P["l_thigh"], P["l_shin"]), B.R_KNE: (P["r_thigh"], P["r_shin"]),
    B.L_ANK: (P["l_shin"], P["l_foot"]), B.R_ANK: (P["r_shin"], P["r_foot"]),
}
FACE_VISIBLE = -0.1  # cosine between a face point's normal and the view direction
SKIN = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 92],
                 [141, 85, 54], [96, 60, 40]], np.float32)
HAIR = np.array([[20, 16, 12], [60, 40, 25], [110, 75, 40], [200, 170, 110], [150, 150, 150], [120, 40, 20]],
                np.float32)


@dataclass
class FiguresConfig:
    size: int = 256
    people: tuple[int, int] = (0, 6)
    crowding: float = 0.3  # 0: people anywhere; 1: all pulled to one spot, overlapping


def category() -> dict:
    return COCO17.to_category(1, "person")


@dataclass
class Person:
    """A body placed in the image: image point = offset + scale · rot · (x', y')."""

    body: B.Body
    depth: float
    scale: float  # pixels per body-height unit
    rot: np.ndarray  # (2, 2) in-plane rotation
    offset: np.ndarray  # (2,)

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        return np.atleast_2d(pts)[:, :2] @ self.rot.T * self.scale + self.offset


def _place(rng: np.random.Generator, cfg: FiguresConfig, group: np.ndarray) -> Person:
    s = cfg.size
    body = B.sample_body(rng)
    depth = rng.uniform(1.0, 3.0)
    scale = s * rng.uniform(0.4, 0.85) * 1.4 / (depth + 0.4)
    a = float(np.clip(rng.normal(0.0, 0.18), -0.5, 0.5))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    person = Person(body, depth, scale, rot, np.zeros(2))
    pts = person.to_image(np.concatenate([body.joints, body.head[None], body.toes]))
    centre = 0.5 * (pts.min(0) + pts.max(0))
    for _ in range(12):
        free = rng.uniform(0.0, s, 2)
        target = group + (1.0 - cfg.crowding) * (free - group) + rng.normal(0, 0.06 * scale, 2)
        person.offset = target - centre
        if _count_inside(person.to_image(body.joints), s) >= 8:
            break
    return person


def _count_inside(pts: np.ndarray, size: int) -> int:
    return int(((pts >= -0.5) & (pts < size - 0.5)).all(1).sum())


def _part_keys(body: B.Body) -> np.ndarray:
    j, z = body.joints, body.joints[:, 2]
    torso = -0.15 * body.shoulder_width
    head = body.head[2] + 0.3 * body.head_radius
    keys = np.zeros(NPARTS)
    keys[P["torso"]], keys[P["pelvis"]] = torso, torso + 1e-3
    keys[P["head"]], keys[P["neck"]] = head, head - 1e-3
    for s, (sho, elb, wri, hip, kne, ank) in enumerate(((B.L_SHO, B.L_ELB, B.L_WRI, B.L_HIP, B.L_KNE, B.L_ANK),
                                                       (B.R_SHO, B.R_ELB, B.R_WRI, B.R_HIP, B.R_KNE, B.R_ANK))):
        side = "lr"[s]
        keys[P[f"{side}_upper_arm"]] = 0.5 * (z[sho] + z[elb])
        keys[P[f"{side}_forearm"]] = 0.5 * (z[elb] + z[wri]) + 1e-4
        keys[P[f"{side}_hand"]] = 0.5 * (z[wri] + body.hands[s, 2]) + 2e-4
        keys[P[f"{side}_thigh"]] = 0.5 * (z[hip] + z[kne])
        keys[P[f"{side}_shin"]] = 0.5 * (z[kne] + z[ank]) + 1e-4
        keys[P[f"{side}_foot"]] = 0.5 * (z[ank] + body.toes[s, 2]) + 2e-4
    return keys


def _draw_person(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray, person: Person,
                 index: int, light: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Draw one person; returns its shirt colour."""
    b, px = person.body, person.scale
    skin = SKIN[rng.integers(len(SKIN))] * rng.uniform(0.9, 1.05)
    shirt, pants = random_colour(rng), random_colour(rng, val=(0.15, 0.8))
    shoes = random_colour(rng, val=(0.05, 0.35))
    hair = HAIR[rng.integers(len(HAIR))]
    sleeves = shirt if rng.random() < 0.5 else skin
    shins = pants if rng.random() < 0.7 else skin
    j = person.to_image(b.joints)
    hands, toes = person.to_image(b.hands), person.to_image(b.toes)
    neck, head = person.to_image(b.neck)[0], person.to_image(b.head)[0]
    r = {k: v * px for k, v in b.radii.items()}
    hr = b.head_radius * px
    limbs = {}
    for s, side in enumerate("lr"):
        sho, elb, wri = (B.L_SHO, B.L_ELB, B.L_WRI) if s == 0 else (B.R_SHO, B.R_ELB, B.R_WRI)
        hip, kne, ank = (B.L_HIP, B.L_KNE, B.L_ANK) if s == 0 else (B.R_HIP, B.R_KNE, B.R_ANK)
        limbs[f"{side}_upper_arm"] = (j[sho], j[elb], r["upper_arm"], r["forearm"], shirt)
        limbs[f"{side}_forearm"] = (j[elb], j[wri], r["forearm"], r["hand"], sleeves)
        limbs[f"{side}_hand"] = (j[wri], hands[s], r["hand"], r["hand"] * 0.8, skin)
        limbs[f"{side}_thigh"] = (j[hip], j[kne], r["thigh"], r["shin"], pants)
        limbs[f"{side}_shin"] = (j[kne], j[ank], r["shin"], r["foot"], shins)
        limbs[f"{side}_foot"] = (j[ank], toes[s], r["foot"], r["foot"], shoes)
    limbs["pelvis"] = (j[B.L_HIP], j[B.R_HIP], r["pelvis"], r["pelvis"], pants)
    limbs["neck"] = (neck, head, r["neck"], r["neck"], skin * 0.92)
    base = index * NPARTS + 1
    for part in np.argsort(keys, kind="stable"):
        name, label = PARTS[part], base + int(part)
        if name == "torso":
            hull = cv2.convexHull(person.to_image(b.torso_corners).astype(np.float32))[:, 0].astype(np.float64)
            shaded_polygon(image, labels, hull, shirt, label, light)
        elif name == "head":
            fill(image, labels, capsule_polygon(head, head + 1e-3, hr, hr, 12), skin * 0.7, label)
            disc(image, head + light * 0.15 * hr, hr * 0.85, skin)
            _draw_face(image, person, j, head, hr, skin, hair)
        else:
            p0, p1, r0, r1, colour = limbs[name]
            shaded_capsule(image, labels, p0, p1, r0, r1, colour, label, light)
    return shirt


def _draw_face(image, person: Person, j: np.ndarray, head: np.ndarray, hr: float, skin, hair) -> None:
    b = person.body
    facing = np.sin(b.yaw + b.head_yaw)  # > 0: the face points towards +x' in the image
    back = np.cos(b.yaw + b.head_yaw) < -0.2
    up = person.rot @ np.array([0.0, -1.0])
    centre = np.arctan2(up[1], up[0]) - 0.6 * facing * (1.0 if person.rot[0, 0] > 0 else -1.0)
    span = np.pi if back else np.radians(95 + 40 * abs(facing))
    a = centre + np.linspace(-span, span, 16)
    arc = head + 1.03 * hr * np.stack([np.cos(a), np.sin(a)], 1)
    fill(image, None, arc, hair, 0)
    for k in (B.L_EAR, B.R_EAR):
        if b.face_facing[k] > FACE_VISIBLE:
            disc(image, j[k], 0.2 * hr, skin * 0.85)
    for k in (B.L_EYE, B.R_EYE):
        if b.face_facing[k] > FACE_VISIBLE:
            disc(image, j[k], 0.13 * hr, (30, 25, 25))
    if b.face_facing[B.NOSE] > FACE_VISIBLE:
        disc(image, j[B.NOSE], 0.13 * hr, skin * 0.75)


def _visibility(labels: np.ndarray, index: int, person: Person, keys: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(17,) v in {1, 2} from the label map after all people are drawn (rules in the module doc)."""
    h, w = labels.shape
    cols = np.clip(np.floor(pts[:, 0] + 0.5).astype(int), 0, w - 1)
    rows = np.clip(np.floor(pts[:, 1] + 0.5).astype(int), 0, h - 1)
    code = labels[rows, cols]
    who, part = (code - 1) // NPARTS, (code - 1) % NPARTS
    z = person.body.joints[:, 2]
    tol = 0.12 * person.body.shoulder_width
    v = np.full(17, 2.0)
    for k in range(17):
        if code[k] == 0:
            continue
        if who[k] > index:
            v[k] = 1
        elif who[k] == index and part[k] not in ATTACHED[k] and keys[part[k]] > z[k] + tol:
            v[k] = 1
    v[list(B.FACE)] = np.where(person.body.face_facing > FACE_VISIBLE, v[list(B.FACE)], 1)
    return v


def render_scene(rng: np.random.Generator, cfg: FiguresConfig) -> Scene:
    n = int(rng.integers(cfg.people[0], cfg.people[1] + 1))
    group = rng.uniform(0.3, 0.7, 2) * cfg.size
    return render_people(rng, cfg, [_place(rng, cfg, group) for _ in range(n)])


def render_people(rng: np.random.Generator, cfg: FiguresConfig, people: list[Person]) -> Scene:
    """Draw ``people`` far to near on a random background; instance order = drawing order."""
    s = cfg.size
    image = background(rng, s, s)
    labels = np.zeros((s, s), np.int32)
    a = rng.uniform(-2.6, -0.6)  # light from above
    light = np.array([np.cos(a), np.sin(a)])
    people = sorted(people, key=lambda p: -p.depth)
    keys = [_part_keys(p.body) for p in people]
    colours, full = [], []
    for i, person in enumerate(people):
        colours.append(_draw_person(rng, image, labels, person, i, light, keys[i]))
        mask = (labels > i * NPARTS) & (labels <= (i + 1) * NPARTS)
        full.append((int(mask.sum()), mask_box(mask)))
    owner = np.where(labels > 0, (labels - 1) // NPARTS, BACKGROUND).astype(np.int32)
    instances = []
    for i, person in enumerate(people):
        pts = person.to_image(person.body.joints)
        v = _visibility(labels, i, person, keys[i], pts)
        kps = np.concatenate([pts, v[:, None]], 1)
        instances.append(SceneInstance(1, kps, person.depth, full[i][0], full[i][1], colours[i]))
    return Scene(image, owner, instances)
