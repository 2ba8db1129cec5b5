"""Load-time augmentations of training samples, as in PointWorld.

Every transform acts on a ``TrainSample`` and keeps it consistent: the same rigid / similarity
transform is applied to the scene points at every step (so flows transform with them), to
the normals, and to the robot points; point removal and voxelisation select the same points
at every step. Randomness comes from one ``torch.Generator`` so a seed reproduces a sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.spatial import cKDTree
from torch import Tensor

from pointwm.data.sample import TrainSample
from pointwm.errors import ConfigError

__all__ = [
    "AugmentConfig",
    "augment",
    "cap_points",
    "flip_y",
    "remove_spheres",
    "rotate_z",
    "scale",
    "select_points",
    "voxelize",
]


@dataclass(frozen=True)
class AugmentConfig:
    """PointWorld's load-time augmentations (set a probability to 0 to switch one off).

    rotate_z_deg:   rotation about the world z axis (through the robot base), uniform in
                    [-rotate_z_deg, rotate_z_deg] degrees.
    flip_prob:      probability of mirroring y -> -y (left-right).
    scale_range:    uniform isotropic scale about the origin.
    drop_prob:      probability of removing spheres of points (partial observability);
    drop_spheres:   (lo, hi) number of spheres; drop_radius: (lo, hi) metres;
    drop_min_robot_dist: sphere centres at least this far (m) from every robot point.
    voxel_size:     metres, one point per voxel after the geometric transforms (0 = off).
    max_points:     cap on N (random subset).
    """

    rotate_z_deg: float = 180.0
    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.9, 1.1)
    drop_prob: float = 0.5
    drop_spheres: tuple[int, int] = (1, 3)
    drop_radius: tuple[float, float] = (0.03, 0.1)
    drop_min_robot_dist: float = 0.15
    voxel_size: float = 0.015
    max_points: int = 12000

    def __post_init__(self) -> None:
        if not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ConfigError(f"AugmentConfig.scale_range: expected 0 < lo <= hi, got {self.scale_range}")
        for name in ("flip_prob", "drop_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"AugmentConfig.{name}: expected in [0, 1], got {getattr(self, name)}")
        if self.max_points < 1:
            raise ConfigError(f"AugmentConfig.max_points: expected >= 1, got {self.max_points}")


def _uniform(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))


def _linear(s: TrainSample, A: Tensor) -> TrainSample:
    """Apply the (3, 3) linear map A (about the origin) to positions and normals."""
    A = A.to(s.points.dtype)
    normals = s.normals @ torch.linalg.inv(A)  # n_new = A^-T n (row vectors: n @ A^-1)
    normals = normals / normals.norm(dim=-1, keepdim=True).clamp(min=1e-12) * (s.normals.norm(dim=-1, keepdim=True) > 0)
    return s.replace(points=s.points @ A.T, robot_points=s.robot_points @ A.T, normals=normals)


def rotate_z(s: TrainSample, angle: float) -> TrainSample:
    """Rotate the whole sample by ``angle`` radians about the world z axis."""
    c, si = math.cos(angle), math.sin(angle)
    return _linear(s, torch.tensor([[c, -si, 0.0], [si, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64))


def flip_y(s: TrainSample) -> TrainSample:
    """Mirror the sample left-right (y -> -y). Robot points mirror too (a mirrored robot)."""
    return _linear(s, torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)))


def scale(s: TrainSample, factor: float) -> TrainSample:
    """Scale all positions by ``factor`` about the origin (normals unchanged)."""
    return s.replace(points=s.points * factor, robot_points=s.robot_points * factor)


def select_points(s: TrainSample, index: Tensor) -> TrainSample:
    """Keep scene points ``index`` (N',) long or (N,) bool, at every step."""
    return s.replace(points=s.points[:, index], colors=s.colors[index], normals=s.normals[index],
                     valid=s.valid[:, index])


def robot_distance(xyz: Tensor, robot_points: Tensor, upper: float) -> Tensor:
    """(N,) float64 CPU distance (m) from each point of ``xyz`` (N, 3) m to the nearest of
    ``robot_points`` (..., 3) m (every step of a robot flow, say), exact up to ``upper`` (m)
    and inf beyond it, or where there are no robot points."""
    if robot_points.numel() == 0 or len(xyz) == 0:
        return torch.full((len(xyz),), math.inf, dtype=torch.float64)

    tree = cKDTree(robot_points.reshape(-1, 3).detach().cpu().double().numpy())
    d, _ = tree.query(xyz.detach().cpu().double().numpy(), k=1, distance_upper_bound=upper)
    return torch.from_numpy(d)


def remove_spheres(s: TrainSample, g: torch.Generator, count: int, radius: tuple[float, float],
                   min_robot_dist: float) -> TrainSample:
    """Drop the t0 points inside ``count`` random spheres centred on scene points far
    (> ``min_robot_dist`` m at every step) from the robot."""
    xyz = s.points[0]
    if len(xyz) == 0:
        return s
    far = robot_distance(xyz, s.robot_points, min_robot_dist) > min_robot_dist
    candidates = far.nonzero().squeeze(1)
    if len(candidates) == 0:
        return s
    keep = torch.ones(len(xyz), dtype=torch.bool)
    for _ in range(count):
        c = xyz[candidates[int(torch.randint(len(candidates), (), generator=g))]]
        keep &= (xyz - c).norm(dim=-1) > _uniform(g, *radius)
    return select_points(s, keep)


def voxelize(s: TrainSample, voxel_size: float) -> TrainSample:
    """One point per ``voxel_size`` voxel of the t0 positions: the point nearest the voxel
    centre, with its own ground truth at every step (never an average across bodies)."""
    xyz = s.points[0]
    if len(xyz) == 0 or voxel_size <= 0:
        return s
    grid = torch.floor((xyz + voxel_size / 2) / voxel_size).long()
    _, inverse = torch.unique(grid, dim=0, return_inverse=True)
    dist = (xyz - grid.to(xyz.dtype) * voxel_size).norm(dim=-1)
    # Sort by (voxel, distance); the first of each voxel is its representative.
    order = torch.argsort(dist, stable=True)
    order = order[torch.argsort(inverse[order], stable=True)]
    first = torch.ones(len(order), dtype=torch.bool)
    first[1:] = inverse[order][1:] != inverse[order][:-1]
    return select_points(s, torch.sort(order[first]).values)


def cap_points(s: TrainSample, max_points: int, g: torch.Generator) -> TrainSample:
    """A random subset of at most ``max_points`` scene points (order kept)."""
    n = s.points.shape[1]
    if n <= max_points:
        return s
    return select_points(s, torch.sort(torch.randperm(n, generator=g)[:max_points]).values)


def augment(s: TrainSample, cfg: AugmentConfig, g: torch.Generator) -> TrainSample:
    """Rotation about z, flip, scale, sphere removal, voxelisation and the point cap."""
    if cfg.rotate_z_deg > 0:
        s = rotate_z(s, math.radians(_uniform(g, -cfg.rotate_z_deg, cfg.rotate_z_deg)))
    if _uniform(g, 0, 1) < cfg.flip_prob:
        s = flip_y(s)
    lo, hi = cfg.scale_range
    if hi > lo or lo != 1.0:
        s = scale(s, _uniform(g, lo, hi))
    if _uniform(g, 0, 1) < cfg.drop_prob:
        n = int(torch.randint(cfg.drop_spheres[0], cfg.drop_spheres[1] + 1, (), generator=g))
        s = remove_spheres(s, g, n, cfg.drop_radius, cfg.drop_min_robot_dist)
    if cfg.voxel_size > 0:
        s = voxelize(s, cfg.voxel_size)
    return cap_points(s, cfg.max_points, g)
