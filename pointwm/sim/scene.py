"""Random table-top scenes and their MuJoCo model (MJCF built from primitives).

The world frame is the robot base frame (z up); the table top is the plane z = 0. The robot
is built from its URDF's primitive shapes as mocap bodies, one per link, whose poses the
generator sets from ``kinematics`` forward kinematics at every physics step: the robot is
driven exactly along its joint path and pushes objects, which are free bodies.

Segment ids (per-pixel and per-point): 0 static (table), 1..K objects, -1 background,
-2 robot.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mujoco
import numpy as np
import torch
from scipy.spatial import ConvexHull

from kinematics import load_robot
from pointwm.errors import InputError
from pointwm.geometry import look_at
from pointwm.sim.config import WorldConfig

__all__ = ["SEG_BACKGROUND", "SEG_ROBOT", "CameraSpec", "ObjectSpec", "SceneSpec", "build_mjcf", "clear_of_table",
           "rock_hull", "sample_scene", "sim_robot"]

SEG_BACKGROUND = -1
SEG_ROBOT = -2
TABLE_CENTER = (0.45, 0.0)
TABLE_HALF = (0.65, 0.7, 0.025)  # half extents (m); the top is at z = 0


@dataclass(frozen=True)
class ObjectSpec:
    """One free object. kind: box (size = half extents), cylinder (radius, half height),
    sphere (radius,), capsule (radius, half length of the straight part; upright),
    ellipsoid (semi-axes x, y, z), lying_cylinder (radius, half length; axis horizontal,
    along the body's x after yaw), prism (sides, bottom circumradius, top circumradius, half
    height: a convex mesh, a frustum when the radii differ), rock (a random convex
    polyhedron: size holds its hull vertices flattened, body frame, resting on its largest
    face, see ``rock_vertices``). xy/yaw: pose on the table (m, rad); mass kg; friction
    (sliding)."""

    kind: str
    size: tuple[float, ...]
    xy: tuple[float, float]
    yaw: float
    mass: float
    friction: float
    rgba: tuple[float, float, float, float]

    @property
    def half_height(self) -> float:
        if self.kind in ("box", "ellipsoid"):
            return self.size[2]
        if self.kind == "cylinder":
            return self.size[1]
        if self.kind == "capsule":
            return self.size[0] + self.size[1]
        if self.kind == "prism":
            return self.size[3]
        if self.kind == "rock":
            return -float(self.rock_vertices()[:, 2].min())
        return self.size[0]  # sphere, lying_cylinder

    @property
    def radius(self) -> float:
        """Horizontal bounding radius (m)."""
        if self.kind in ("box", "lying_cylinder"):  # half extents / radius and half length
            return math.hypot(self.size[0], self.size[1])
        if self.kind == "ellipsoid":
            return max(self.size[0], self.size[1])
        if self.kind == "prism":
            return max(self.size[1], self.size[2])
        if self.kind == "rock":
            return float(np.linalg.norm(self.rock_vertices()[:, :2], axis=1).max())
        return self.size[0]

    def prism_vertices(self) -> np.ndarray:
        """(2 * sides, 3) vertices of a ``prism`` in its body frame (m)."""
        n, r0, r1, h = int(self.size[0]), self.size[1], self.size[2], self.size[3]
        a = 2 * math.pi * np.arange(n) / n
        ring = np.stack([np.cos(a), np.sin(a)], 1)
        return np.concatenate([np.c_[r0 * ring, np.full(n, -h)], np.c_[r1 * ring, np.full(n, h)]])

    def rock_vertices(self) -> np.ndarray:
        """(V, 3) hull vertices of a ``rock`` in its body frame (m)."""
        return np.asarray(self.size, dtype=np.float64).reshape(-1, 3)


def rock_hull(points: np.ndarray) -> np.ndarray:
    """Vertices of the convex hull of ``points`` (P, 3), turned so that its largest face lies
    flat at the bottom (the most stable way to rest), centred on the hull's vertex centroid
    in x/y and on its mid height in z: the body frame of a ``rock`` object."""
    hull = ConvexHull(points)
    v = points[hull.vertices]
    tri = points[hull.simplices]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    # Coplanar triangles of one face share its outward normal (the equation's first three).
    _, inverse = np.unique(np.round(hull.equations[:, :3], 6), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    n = hull.equations[inverse == np.argmax(np.bincount(inverse, weights=area)), :3].mean(0)
    n = n / np.linalg.norm(n)
    # Rotate n onto -z (Rodrigues); n = +z needs a half turn about x. (Kept by hand, not
    # scipy's align_vectors, which rounds differently: sim4-mix/sim4-rock came from this.)
    down = np.array([0.0, 0.0, -1.0])
    axis = np.cross(n, down)
    s, c = np.linalg.norm(axis), float(n @ down)
    if s < 1e-9:
        R = np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    else:
        k = axis / s
        K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        R = np.eye(3) + s * K + (1 - c) * K @ K
    v = v @ R.T
    lo, hi = v.min(0), v.max(0)
    return v - np.array([v[:, 0].mean(), v[:, 1].mean(), (lo[2] + hi[2]) / 2])


@dataclass(frozen=True)
class CameraSpec:
    """A pinhole camera at ``eye`` looking at ``target`` (world, m) with vertical fov (deg)."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float


@dataclass(frozen=True)
class SceneSpec:
    objects: tuple[ObjectSpec, ...]
    cameras: tuple[CameraSpec, ...]
    table_rgba: tuple[float, float, float, float]


def sample_scene(rng: np.random.Generator, cfg: WorldConfig) -> SceneSpec:
    """A random scene: 1-4 objects spread on the table in reach, 1-3 cameras viewing it."""
    n_obj = int(rng.integers(cfg.objects[0], cfg.objects[1] + 1))
    objects: list[ObjectSpec] = []
    for _ in range(200):
        if len(objects) == n_obj:
            break
        kind = cfg.shapes[int(rng.integers(len(cfg.shapes)))]
        if kind == "box":
            size = tuple(float(x) for x in rng.uniform([0.02, 0.02, 0.02], [0.06, 0.06, 0.06]))
        elif kind == "cylinder":
            size = (float(rng.uniform(0.02, 0.05)), float(rng.uniform(0.02, 0.07)))
        elif kind == "sphere":
            size = (float(rng.uniform(0.02, 0.045)),)
        elif kind == "capsule":
            size = (float(rng.uniform(0.02, 0.04)), float(rng.uniform(0.01, 0.04)))
        elif kind == "ellipsoid":  # shortest semi-axis vertical: the one stable way to rest
            size = tuple(sorted((float(x) for x in rng.uniform([0.025, 0.02, 0.015], [0.06, 0.045, 0.035])),
                                reverse=True))
        elif kind == "lying_cylinder":
            size = (float(rng.uniform(0.015, 0.035)), float(rng.uniform(0.02, 0.05)))
        elif kind == "prism":
            r0 = float(rng.uniform(0.02, 0.05))
            size = (float(rng.integers(3, 9)), r0, r0 * float(rng.uniform(0.5, 1.0)), float(rng.uniform(0.015, 0.04)))
        else:  # rock: hull of 6-20 points drawn in a random box
            half = rng.uniform([0.02, 0.02, 0.02], [0.05, 0.05, 0.05])
            pts = rng.uniform(-half, half, (int(rng.integers(6, 21)), 3))
            size = tuple(float(x) for x in rock_hull(pts).reshape(-1))
        xy = (float(rng.uniform(0.35, 0.62)), float(rng.uniform(-0.28, 0.28)))
        hue = rng.uniform(0, 1, 3)
        rgba = tuple(float(x) for x in 0.15 + 0.85 * hue / max(hue.max(), 1e-6)) + (1.0,)
        spec = ObjectSpec(kind, size, xy, float(rng.uniform(-math.pi, math.pi)),
                          float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.3, 1.0)), rgba)
        if all(math.dist(spec.xy, o.xy) > spec.radius + o.radius + 0.02 for o in objects):
            objects.append(spec)
    n_cam = int(rng.integers(cfg.cameras[0], cfg.cameras[1] + 1))
    cameras = []
    for _ in range(n_cam):
        az = math.radians(float(rng.uniform(-150, 150)))
        el = math.radians(float(rng.uniform(25, 70)))
        dist = float(rng.uniform(0.8, 1.3))
        target = (TABLE_CENTER[0] + float(rng.uniform(-0.1, 0.1)), float(rng.uniform(-0.15, 0.15)), 0.02)
        eye = (target[0] + dist * math.cos(el) * math.cos(az),
               target[1] + dist * math.cos(el) * math.sin(az),
               target[2] + dist * math.sin(el))
        cameras.append(CameraSpec(eye, target, float(rng.uniform(*cfg.fov_deg))))
    wood = rng.uniform([0.45, 0.3, 0.15], [0.75, 0.55, 0.35])
    return SceneSpec(tuple(objects), tuple(cameras), tuple(float(x) for x in wood) + (1.0,))


def _f(v) -> str:
    return " ".join(f"{float(x):.9g}" for x in v)


def _quat(R: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=np.float64).reshape(9))
    return q


def _geom_xml(kind: str, size, T: np.ndarray, extra: str) -> str:
    if kind == "box":
        s = [x / 2 for x in size]
    elif kind == "cylinder":
        s = [size[0], size[1] / 2]
    elif kind == "sphere":
        s = [size[0]]
    else:
        raise InputError(f"simulated robot: {kind!r} geometry is not supported (primitives only: box, cylinder, sphere)")
    return f'<geom type="{kind}" size="{_f(s)}" pos="{_f(T[:3, 3])}" quat="{_f(_quat(T[:3, :3]))}" {extra}/>'


def build_mjcf(scene: SceneSpec, robot, cfg: WorldConfig) -> tuple[str, list[str]]:
    """MJCF text of the scene, and the robot link names that became mocap bodies (in order).

    robot: a ``kinematics.RobotModel`` (its description's primitive shapes are used).
    Collision bits: table (1/1), objects (1/3), robot (2/0): the robot touches objects
    only, never the table or itself.
    """
    robot_links = []
    bodies = []
    for link in robot.description.links:
        if not link.shapes:
            continue
        geoms = "".join(
            _geom_xml(s.kind, s.size, np.asarray(s.T_link_shape), 'contype="2" conaffinity="0" rgba="0.85 0.85 0.88 1"')
            for s in link.shapes
        )
        bodies.append(f'<body name="robot_{len(robot_links)}" mocap="true">{geoms}</body>')
        robot_links.append(link.name)
    objs, meshes = [], []
    for i, o in enumerate(scene.objects):
        cy, sy = math.cos(o.yaw / 2), math.sin(o.yaw / 2)
        if o.kind == "lying_cylinder":  # axis from z to the body's x: 90 degrees about y
            shape = f'type="cylinder" size="{_f(o.size)}" quat="{_f((math.sqrt(0.5), 0, math.sqrt(0.5), 0))}"'
        elif o.kind in ("prism", "rock"):
            v = o.prism_vertices() if o.kind == "prism" else o.rock_vertices()
            meshes.append(f'<mesh name="mesh_{i}" vertex="{_f(v.reshape(-1))}"/>')
            shape = f'type="mesh" mesh="mesh_{i}"'
        else:
            shape = f'type="{o.kind}" size="{_f(o.size)}"'
        objs.append(
            f'<body name="obj_{i}" pos="{_f((*o.xy, o.half_height + 1e-4))}" quat="{_f((cy, 0, 0, sy))}">'
            f'<freejoint/><geom {shape} mass="{o.mass:.6g}" '
            f'friction="{o.friction:.6g} 0.005 0.0001" rgba="{_f(o.rgba)}" contype="1" conaffinity="3" '
            f'condim="4" solref="0.004 1" solimp="0.95 0.99 0.001"/></body>'
        )
    cams = []
    for i, c in enumerate(scene.cameras):
        T = look_at(c.eye, c.target).numpy()  # OpenCV axes: x right, y down, z forward
        # MuJoCo cameras look along -z with y up: xaxis = x_cv, yaxis = -y_cv.
        cams.append(f'<camera name="cam{i}" pos="{_f(c.eye)}" xyaxes="{_f(T[:3, 0])} {_f(-T[:3, 1])}" fovy="{c.fov_deg:.9g}"/>')
    hx, hy, hz = TABLE_HALF
    xml = f"""<mujoco model="pointwm_scene">
  <option timestep="{cfg.physics_dt}" gravity="0 0 -9.81" cone="elliptic" impratio="2"/>
  <visual><quality offsamples="0" shadowsize="0"/><global offwidth="{max(cfg.width, 64)}" offheight="{max(cfg.height, 64)}"/>
    <map znear="0.01" zfar="20"/></visual>
  {f"<asset>{''.join(meshes)}</asset>" if meshes else ""}
  <worldbody>
    <light directional="true" pos="0.4 -0.3 2" dir="-0.2 0.15 -1" diffuse="0.7 0.7 0.7" castshadow="false"/>
    <geom name="table" type="box" size="{hx} {hy} {hz}" pos="{TABLE_CENTER[0]} {TABLE_CENTER[1]} {-hz}" rgba="{_f(scene.table_rgba)}" contype="1" conaffinity="1" friction="0.8 0.005 0.0001"/>
    {''.join(bodies)}
    {''.join(objs)}
    {''.join(cams)}
  </worldbody>
</mujoco>"""
    return xml, robot_links


@functools.lru_cache(maxsize=4)
def sim_robot(name: str):
    """Robot ``name`` as the simulator's motion checks use it: its surface points drawn by
    area over all links, whatever density its YAML asks of the world model's input
    (``dense_links``), so that archives and push tasks do not change with that setting."""
    return load_robot(name, dense_links=(), dense_fraction=0.0)


def clear_of_table(robot, q: np.ndarray, margin: float = 0.003) -> bool:
    """True when every robot surface point (the base link's aside: it stands on the table)
    is above the table top (z = 0) by ``margin`` metres, for all configurations q (K, J)."""
    pts = robot.surface_points(torch.from_numpy(q), validate=False)  # (K, M, 3)
    base = robot.point_link == 0
    return bool((pts[:, ~base, 2] > margin).all())
