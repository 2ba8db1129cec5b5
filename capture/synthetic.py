"""Exact RGB-D renders of simple primitive scenes by ray casting (no GL needed).

Used to make the sample capture in ``assets/`` and as a test oracle: every pixel's depth,
surface normal and object id are known in closed form, so backprojection, cropping and
normal estimation can be checked against the true geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from capture.camera import Intrinsics
from capture.frame import RGBDFrame


@dataclass(frozen=True)
class Box:
    """Box of half-extents ``half`` (m) centred at ``center``, rotated ``yaw`` rad about z."""

    center: tuple[float, float, float]
    half: tuple[float, float, float]
    color: tuple[float, float, float]
    yaw: float = 0.0


@dataclass(frozen=True)
class Sphere:
    center: tuple[float, float, float]
    radius: float
    color: tuple[float, float, float]


@dataclass(frozen=True)
class Cylinder:
    """Upright cylinder (axis along z) of ``radius`` and ``half_height`` about ``center``."""

    center: tuple[float, float, float]
    radius: float
    half_height: float
    color: tuple[float, float, float]


Primitive = Box | Sphere | Cylinder


@dataclass(frozen=True)
class Scene:
    primitives: tuple[Primitive, ...]
    light_dir: tuple[float, float, float] = (0.3, 0.2, 1.0)  # towards the light
    background_depth: float = 0.0  # depth of rays that hit nothing (0 = no reading)
    checker: float = 0.05  # checkerboard period (m) on flat tops; 0 disables


def _rot_z(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _hit_box(o, d, box: Box):
    R = _rot_z(box.yaw)
    lo_, d_ = (o - np.asarray(box.center)) @ R, d @ R  # into the box frame
    half = np.asarray(box.half)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - lo_) / d_
        t2 = (half - lo_) / d_
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    tnear = np.nanmax(tmin, axis=-1)
    tfar = np.nanmin(tmax, axis=-1)
    hit = (tnear <= tfar) & (tfar > 0) & (tnear > 0)
    axis = np.nanargmax(tmin, axis=-1)
    n_local = np.zeros_like(d)
    idx = np.arange(len(d))
    n_local[idx, axis] = -np.sign(d_[idx, axis])
    return np.where(hit, tnear, np.inf), n_local @ R.T


def _hit_sphere(o, d, s: Sphere):
    oc = o - np.asarray(s.center)
    a = (d * d).sum(-1)
    b = 2 * (oc * d).sum(-1)
    c = (oc * oc).sum(-1) - s.radius**2
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / (2 * a)
    t = np.where((disc >= 0) & (t > 0), t, np.inf)
    p = o + np.where(np.isfinite(t), t, 0)[:, None] * d
    return t, (p - np.asarray(s.center)) / s.radius


def _hit_cylinder(o, d, cyl: Cylinder):
    cx, cy, cz = cyl.center
    ox, oy = o[:, 0] - cx, o[:, 1] - cy
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2 * (ox * d[:, 0] + oy * d[:, 1])
    c = ox**2 + oy**2 - cyl.radius**2
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t_side = (-b - np.sqrt(disc)) / (2 * a)
        z_side = o[:, 2] + t_side * d[:, 2]
        side_ok = (disc >= 0) & (t_side > 0) & (np.abs(z_side - cz) <= cyl.half_height)
        t_side = np.where(side_ok, t_side, np.inf)
        t_cap = (cz + cyl.half_height - o[:, 2]) / d[:, 2]  # top cap only (seen from above)
        px = ox + t_cap * d[:, 0]
        py = oy + t_cap * d[:, 1]
        cap_ok = (t_cap > 0) & (px**2 + py**2 <= cyl.radius**2) & (d[:, 2] < 0)
        t_cap = np.where(cap_ok, t_cap, np.inf)
    t = np.minimum(t_side, t_cap)
    p = o + np.where(np.isfinite(t), t, 0)[:, None] * d
    n = np.zeros_like(d)
    n[:, 0], n[:, 1] = (p[:, 0] - cx) / cyl.radius, (p[:, 1] - cy) / cyl.radius
    n = np.where((t_cap <= t_side)[:, None], np.array([0.0, 0.0, 1.0]), n)
    return t, n


_HIT = {Box: _hit_box, Sphere: _hit_sphere, Cylinder: _hit_cylinder}


def render(
    scene: Scene, intrinsics: Intrinsics, T_world_cam: np.ndarray, name: str = "cam0"
) -> tuple[RGBDFrame, np.ndarray, np.ndarray]:
    """Ray-cast ``scene`` from a camera.

    Returns ``(frame, segmentation (H, W) int32 with -1 for background and the primitive's
    index otherwise, normals (H, W, 3) float32 world-frame unit normals)``. Depth is the
    exact z of the first hit in the camera frame (metres); colour is Lambertian shading of
    each primitive's colour with a checkerboard on upward faces.
    """
    T = np.asarray(T_world_cam, dtype=np.float64)
    H, W = intrinsics.height, intrinsics.width
    v, u = np.mgrid[0:H, 0:W]
    d_cam = np.stack(
        [(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones((H, W))], -1
    ).reshape(-1, 3)
    d = d_cam @ T[:3, :3].T  # t along d is exactly the camera-frame depth
    o = np.broadcast_to(T[:3, 3], d.shape)
    best_t = np.full(len(d), np.inf)
    seg = np.full(len(d), -1, dtype=np.int32)
    normals = np.zeros_like(d)
    for i, prim in enumerate(scene.primitives):
        t, n = _HIT[type(prim)](o, d, prim)
        closer = t < best_t
        best_t = np.where(closer, t, best_t)
        seg = np.where(closer, i, seg)
        normals = np.where(closer[:, None], n, normals)
    hit = np.isfinite(best_t)
    base = np.zeros((len(d), 3))
    colors = np.array([p.color for p in scene.primitives], dtype=np.float64)
    base[hit] = colors[seg[hit]]
    light = np.asarray(scene.light_dir, dtype=np.float64)
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.clip(normals @ light, 0, 1)
    if scene.checker > 0:
        p = o + np.where(hit, best_t, 0)[:, None] * d
        up = hit & (normals[:, 2] > 0.9)
        cells = np.floor(p[:, 0] / scene.checker) + np.floor(p[:, 1] / scene.checker)
        shade = np.where(up & (cells % 2 == 0), shade * 0.85, shade)
    rgb = np.clip(base * shade[:, None], 0, 1)
    depth = np.where(hit, best_t, scene.background_depth)
    frame = RGBDFrame(
        color=(rgb.reshape(H, W, 3) * 255).round().astype(np.uint8),
        depth=depth.reshape(H, W).astype(np.float32),
        intrinsics=intrinsics,
        T_world_cam=T,
        name=name,
    )
    return frame, seg.reshape(H, W), normals.reshape(H, W, 3).astype(np.float32)


def table_scene() -> Scene:
    """The scene of the sample capture: a table with four objects in PointWorld's workspace."""
    return Scene(
        primitives=(
            Box((0.45, 0.0, -0.025), (0.45, 0.6, 0.025), (0.72, 0.6, 0.45)),  # table top, z = 0
            Box((0.45, 0.0, -0.4), (0.4, 0.55, 0.35), (0.45, 0.35, 0.25)),  # table body
            Box((0.8, 0.0, -0.8), (3.0, 3.0, 0.05), (0.5, 0.5, 0.52)),  # floor
            Box((0.42, 0.12, 0.04), (0.04, 0.06, 0.04), (0.85, 0.15, 0.12), yaw=0.4),  # red box
            Cylinder((0.5, -0.14, 0.06), 0.035, 0.06, (0.15, 0.3, 0.85)),  # blue can
            Sphere((0.32, -0.02, 0.03), 0.03, (0.15, 0.7, 0.2)),  # green ball
            Box((0.58, 0.06, 0.015), (0.05, 0.03, 0.015), (0.95, 0.8, 0.1), yaw=-0.3),  # yellow block
        )
    )
