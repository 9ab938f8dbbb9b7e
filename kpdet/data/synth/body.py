"""A 3-D stick body with the COCO-17 keypoints, posed within joint limits.

Body frame (units of body height): x towards the person's LEFT, y down, z towards the
camera when the person faces it. The pose is a kinematic tree (shoulder, elbow, hip, knee
angles within human limits, head turn and tilt); the whole body is then turned about the
vertical axis by ``yaw`` and projected orthographically (the figure is small compared with
its distance), so that x' and y' are image directions and z' is depth towards the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# COCO-17 order (kpdet.schema.COCO17)
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK = 11, 12, 13, 14, 15, 16
FACE = (NOSE, L_EYE, R_EYE, L_EAR, R_EAR)

# face points relative to the head centre, in head radii (head frame = body frame before the head turn)
_FACE_POINTS = np.array([
    [0.0, 0.18, 1.05],     # nose
    [0.38, -0.12, 0.88],   # left eye
    [-0.38, -0.12, 0.88],  # right eye
    [0.98, 0.05, -0.08],   # left ear
    [-0.98, 0.05, -0.08],  # right ear
])


@dataclass
class Body:
    """A posed body. Arrays are in body-height units after the yaw turn (x', y' image-aligned)."""

    joints: np.ndarray  # (17, 3) COCO keypoints x', y', z'
    face_facing: np.ndarray  # (5,) cosine between the face point's normal and the view direction
    neck: np.ndarray  # (3,)
    head: np.ndarray  # (3,) head centre
    head_radius: float
    hands: np.ndarray  # (2, 3) finger tips left, right
    toes: np.ndarray  # (2, 3) left, right
    torso_corners: np.ndarray  # (8, 3) box from shoulders to hips
    radii: dict[str, float]  # limb radii by part name
    yaw: float  # radians, 0 = facing the camera
    head_yaw: float
    shoulder_width: float


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _limb_dir(side: float, abduction: float, flexion: float) -> np.ndarray:
    """Unit direction from down (0, 1, 0): raised sideways by ``abduction``, forward by ``flexion``."""
    d = np.array([side * np.sin(abduction) * np.cos(flexion), np.cos(abduction) * np.cos(flexion), np.sin(flexion)])
    return d / np.linalg.norm(d)


def _bend(d: np.ndarray, towards: np.ndarray, angle: float) -> np.ndarray:
    """Rotate unit ``d`` by ``angle`` in the plane spanned by ``d`` and ``towards``."""
    perp = towards - np.dot(towards, d) * d
    n = np.linalg.norm(perp)
    if n < 1e-6:
        perp, n = np.array([0.0, -1.0, 0.0]) - d[1] * d, 1.0
        n = max(np.linalg.norm(perp), 1e-6)
    perp = perp / n
    return np.cos(angle) * d + np.sin(angle) * perp


def _angles(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Joint angles (radians) per side [left, right], from a mixture of standing, walking and free poses."""
    deg = np.radians
    style = rng.choice(3, p=[0.35, 0.3, 0.35])
    if style == 0:  # standing, relaxed
        arm_abd = rng.uniform(deg(-5), deg(35), 2)
        arm_flex = rng.uniform(deg(-20), deg(40), 2)
        elbow = rng.uniform(0, deg(70), 2)
        leg_abd = rng.uniform(deg(-3), deg(15), 2)
        leg_flex = rng.uniform(deg(-10), deg(20), 2)
        knee = rng.uniform(0, deg(20), 2)
    elif style == 1:  # walking / running: opposite arms and legs swing
        swing = rng.uniform(deg(10), deg(50))
        sgn = rng.choice([-1.0, 1.0])
        arm_abd = rng.uniform(deg(0), deg(20), 2)
        arm_flex = np.array([sgn, -sgn]) * swing * rng.uniform(0.6, 1.2, 2)
        elbow = rng.uniform(deg(10), deg(100), 2)
        leg_abd = rng.uniform(deg(-3), deg(10), 2)
        leg_flex = np.array([-sgn, sgn]) * swing * rng.uniform(0.6, 1.2, 2)
        knee = np.where(leg_flex < 0, rng.uniform(deg(20), deg(90), 2), rng.uniform(0, deg(30), 2))
    else:  # anything within the joint limits
        arm_abd = rng.uniform(deg(-15), deg(170), 2)
        arm_flex = rng.uniform(deg(-40), deg(150), 2)
        elbow = rng.uniform(0, deg(150), 2)
        leg_abd = rng.uniform(deg(-10), deg(45), 2)
        leg_flex = rng.uniform(deg(-25), deg(100), 2)
        knee = rng.uniform(0, deg(130), 2)
    return dict(arm_abd=arm_abd, arm_flex=arm_flex, elbow=elbow, leg_abd=leg_abd, leg_flex=leg_flex, knee=knee)


def sample_body(rng: np.random.Generator, yaw: float | None = None) -> Body:
    """Random proportions and a random pose within joint limits; a random ``yaw`` unless given."""
    u = rng.uniform
    head_r = 0.062 * u(0.9, 1.15)
    neck_len = 0.035 * u(0.8, 1.2)
    torso_len = 0.30 * u(0.9, 1.1)
    sw = 0.24 * u(0.85, 1.15)
    hw = 0.15 * u(0.85, 1.2)
    arm = u(0.9, 1.1)
    upper_arm, forearm, hand = 0.165 * arm, 0.145 * arm, 0.05 * arm
    leg = u(0.9, 1.1)
    thigh, shin, foot = 0.235 * leg, 0.225 * leg, 0.07
    girth = u(0.8, 1.3)
    radii = {"upper_arm": 0.030 * girth, "forearm": 0.024 * girth, "hand": 0.018 * girth,
             "thigh": 0.045 * girth, "shin": 0.034 * girth, "foot": 0.024 * girth,
             "neck": 0.45 * head_r, "pelvis": 0.05 * girth}
    thick = 0.11 * girth

    a = _angles(rng)
    neck = np.zeros(3)
    sho = np.array([[sw / 2, 0.02, 0.0], [-sw / 2, 0.02, 0.0]])
    hip = np.array([[hw / 2, torso_len, 0.0], [-hw / 2, torso_len, 0.0]])
    elb, wri, fing, kne, ank, toe = (np.zeros((2, 3)) for _ in range(6))
    for s, side in enumerate((1.0, -1.0)):
        d = _limb_dir(side, a["arm_abd"][s], a["arm_flex"][s])
        elb[s] = sho[s] + upper_arm * d
        towards = np.array([0.0, -0.3, 1.0]) + rng.normal(0, 0.3, 3)
        d2 = _bend(d, towards, a["elbow"][s])
        wri[s] = elb[s] + forearm * d2
        fing[s] = wri[s] + hand * d2
        d = _limb_dir(side, a["leg_abd"][s], a["leg_flex"][s])
        kne[s] = hip[s] + thigh * d
        d2 = _bend(d, np.array([0.0, 0.0, -1.0]), a["knee"][s])
        ank[s] = kne[s] + shin * d2
        toe[s] = ank[s] + foot * np.array([0.0, 0.25, 1.0]) / np.hypot(0.25, 1.0)

    head_yaw = rng.uniform(-0.6, 0.6)
    head_tilt = rng.uniform(-0.25, 0.25)
    head = np.array([0.0, -neck_len - 0.9 * head_r, 0.0])
    face = (_rot_y(head_yaw) @ _rot_x(head_tilt) @ _FACE_POINTS.T).T  # (5, 3) in head radii

    # facing the camera most of the time, sometimes in profile or from the back
    r = rng.random()
    if yaw is None:
        yaw = rng.uniform(-0.8, 0.8) if r < 0.55 else rng.uniform(-1.7, 1.7) if r < 0.85 else rng.uniform(-np.pi, np.pi)
    rot = _rot_y(yaw)

    joints = np.zeros((17, 3))
    joints[list(FACE)] = head + head_r * face
    joints[[L_SHO, R_SHO]] = sho
    joints[[L_ELB, R_ELB]] = elb
    joints[[L_WRI, R_WRI]] = wri
    joints[[L_HIP, R_HIP]] = hip
    joints[[L_KNE, R_KNE]] = kne
    joints[[L_ANK, R_ANK]] = ank
    normals = face / np.linalg.norm(face, axis=1, keepdims=True)
    corners = np.array([[x * sw * 0.52, 0.02, z * thick / 2] for x in (1, -1) for z in (1, -1)]
                       + [[x * hw * 0.62, torso_len, z * thick / 2] for x in (1, -1) for z in (1, -1)])
    return Body(
        joints=joints @ rot.T,
        face_facing=(normals @ rot.T)[:, 2],
        neck=rot @ neck,
        head=rot @ head,
        head_radius=head_r,
        hands=fing @ rot.T,
        toes=toe @ rot.T,
        torso_corners=corners @ rot.T,
        radii=radii,
        yaw=yaw,
        head_yaw=head_yaw,
        shoulder_width=sw,
    )
