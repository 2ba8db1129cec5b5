"""The robot in a captured scene: drop its points from a cloud, render its mask into an image.

Both use the model's dense surface samples (``RobotModel.dense_surface``: about ``spacing``
metres apart, link frames) posed at one joint configuration.

- ``robot_point_mask``: a scene point is on the robot when its distance to the nearest
  dense sample is below ``margin`` (a k-d tree query, scipy). Non-finite points are kept.
- ``render_robot_mask``: dense samples are projected into the camera and splatted as discs
  of one sample spacing, so the silhouette is dilated by at most about ``spacing``. With a
  depth image, pixels where the scene is observed clearly in front of the robot are
  removed (the robot is occluded there).

Intrinsics are duck-typed (any object with fx, fy, cx, cy, width, height, such as
``capture.Intrinsics``) or given as a mapping with those keys.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from kinematics.errors import KinematicsError
from kinematics.model import RobotModel
from pointwm.geometry import PointCloud, as_transform, invert_transform, transform_points

__all__ = ["remove_robot", "render_robot_mask", "robot_point_mask"]


def _check_margin(margin: float, name: str = "margin") -> float:
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not math.isfinite(margin) or margin < 0:
        raise KinematicsError(f"{name}: expected a non-negative number of metres, got {margin!r}")
    return float(margin)


def _single_q(robot: RobotModel, q) -> Tensor:
    q = robot.check_q(q, "q")
    if q.ndim != 1:
        raise KinematicsError(f"q: expected one configuration of shape ({robot.num_joints},), got {tuple(q.shape)}")
    return q.detach().to("cpu", torch.float64)


def robot_point_mask(
    robot: RobotModel, xyz: Tensor, q, margin: float = 0.01, spacing: float | None = None,
) -> Tensor:
    """Which scene points lie on the robot.

    xyz: (N, 3) scene points in the robot base frame (metres), any float dtype and device.
    q: (J,) the joint configuration at capture time (rad, m).
    margin: metres; a point closer than this to the robot surface is on the robot.
    spacing: dense-sample spacing in metres (default: margin / 2, at least 2 mm); the
        distance to the true surface is over-estimated by at most about spacing / 2.
    Returns (N,) bool on xyz's device, True for robot points.
    """
    margin = _check_margin(margin)
    if not isinstance(xyz, Tensor) or xyz.ndim != 2 or xyz.shape[-1] != 3:
        raise KinematicsError(f"xyz: expected a tensor of shape (N, 3), got {getattr(xyz, 'shape', type(xyz).__name__)}")
    spacing = max(margin / 2, 0.002) if spacing is None else _check_margin(spacing, "spacing")
    robot_pts = robot.dense_points(_single_q(robot, q), spacing).numpy()  # (P, 3)
    scene = xyz.detach().to("cpu", torch.float64).numpy()
    finite = np.isfinite(scene).all(-1)
    out = np.zeros(len(scene), dtype=bool)
    if finite.any() and margin > 0:
        dist, _ = cKDTree(robot_pts).query(scene[finite], k=1, distance_upper_bound=margin)
        out[finite] = dist < margin
    return torch.from_numpy(out).to(xyz.device)


def remove_robot(
    robot: RobotModel, cloud: PointCloud, q, margin: float = 0.01, spacing: float | None = None
) -> PointCloud:
    """The cloud (base frame) without the points within ``margin`` metres of the robot at q (J,)."""
    if not isinstance(cloud, PointCloud):
        raise TypeError(f"cloud: expected a pointwm.PointCloud, got {type(cloud).__name__}")
    keep = ~robot_point_mask(robot, cloud.xyz, q, margin, spacing)
    return cloud.select(keep)


def _intrinsics(intrinsics) -> tuple[float, float, float, float, int, int]:
    keys = ("fx", "fy", "cx", "cy", "width", "height")
    try:
        if isinstance(intrinsics, dict):
            vals = [intrinsics[k] for k in keys]
        else:
            vals = [getattr(intrinsics, k) for k in keys]
    except (KeyError, AttributeError):
        raise TypeError(
            f"intrinsics: expected an object or mapping with {keys}, got {type(intrinsics).__name__}"
        ) from None
    fx, fy, cx, cy = (float(v) for v in vals[:4])
    w, h = int(vals[4]), int(vals[5])
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)) or fx <= 0 or fy <= 0 or w <= 0 or h <= 0:
        raise KinematicsError(f"intrinsics: invalid values {dict(zip(keys, vals, strict=True))}")
    return fx, fy, cx, cy, w, h


def render_robot_mask(
    robot: RobotModel, q, intrinsics, T_world_cam, depth: Tensor | None = None,
    depth_tolerance: float = 0.02, spacing: float = 0.005, max_radius: int = 8,
) -> Tensor:
    """Pixels covered by the robot in a camera image.

    q: (J,) joint configuration (rad, m). intrinsics: fx, fy, cx, cy (pixels), width,
    height, OpenCV convention. T_world_cam: (4, 4) camera pose in the base (world) frame.
    depth: optional (H, W) float metres, 0 / non-finite = no reading; where the observed
    depth is more than ``depth_tolerance`` metres in front of the robot, the pixel is not
    robot (occluded). spacing: dense-sample spacing (metres); max_radius: largest splat
    radius in pixels. Returns (H, W) bool on the CPU (or depth's device).
    """
    fx, fy, cx, cy, W, H = _intrinsics(intrinsics)
    T_world_cam = as_transform(T_world_cam, "T_world_cam").to("cpu", torch.float64)
    if T_world_cam.shape != (4, 4):
        raise KinematicsError(f"T_world_cam: expected shape (4, 4), got {tuple(T_world_cam.shape)}")
    depth_tolerance = _check_margin(depth_tolerance, "depth_tolerance")
    if depth is not None:
        if not isinstance(depth, Tensor) or depth.shape != (H, W):
            raise KinematicsError(
                f"depth: expected a tensor of shape ({H}, {W}) matching the intrinsics, got {getattr(depth, 'shape', type(depth).__name__)}"
            )
    world = robot.dense_points(q, spacing)  # (P, 3)
    cam = transform_points(invert_transform(T_world_cam), world)
    z = cam[:, 2]
    front = z > 1e-6
    cam, z = cam[front], z[front]
    u = fx * cam[:, 0] / z + cx
    v = fy * cam[:, 1] / z + cy
    r = torch.clamp(torch.ceil(max(fx, fy) * spacing / z), 1, max_radius).long()
    ui, vi = torch.round(u).long(), torch.round(v).long()
    zbuf = torch.full((H * W,), math.inf, dtype=torch.float64)
    rmax = int(r.max()) if len(r) else 0
    for dv in range(-rmax, rmax + 1):
        for du in range(-rmax, rmax + 1):
            sel = (du * du + dv * dv) <= r * r
            uu, vv = ui + du, vi + dv
            sel &= (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            if sel.any():
                zbuf.scatter_reduce_(0, vv[sel] * W + uu[sel], z[sel], reduce="amin")
    zbuf = zbuf.reshape(H, W)
    mask = torch.isfinite(zbuf)
    if depth is not None:
        d = depth.detach().to("cpu", torch.float64)
        valid = torch.isfinite(d) & (d > 0)
        mask &= ~valid | (d >= zbuf - depth_tolerance)
        return mask.to(depth.device)
    return mask
