"""Augmentations keep scene points, their futures and robot points consistent."""

from __future__ import annotations

import math

import pytest
import torch
from data_helpers import make_clip

from pointwm.data.augment import (
    AugmentConfig,
    augment,
    cap_points,
    flip_y,
    remove_spheres,
    rotate_z,
    scale,
    voxelize,
)
from pointwm.data.sample import TrainSample, clip_to_sample


def _sample(n: int = 300, T: int = 4, seed: int = 0) -> TrainSample:
    g = torch.Generator().manual_seed(seed)
    xyz = torch.rand(n, 3, generator=g) * torch.tensor([0.6, 0.8, 0.3]) + torch.tensor([0.1, -0.4, 0.0])
    points = xyz[None] + torch.cumsum(torch.randn(T + 1, n, 3, generator=g) * 0.01, dim=0)
    points[0] = xyz
    robot = torch.rand(T + 1, 50, 3, generator=g) * 0.1 + torch.tensor([0.0, 0.0, 0.3])
    nrm = torch.randn(n, 3, generator=g)
    return TrainSample(points, torch.rand(n, 3, generator=g), nrm / nrm.norm(dim=1, keepdim=True),
                       torch.ones(T + 1, n, dtype=torch.bool), robot, torch.zeros(T + 1, 8), torch.ones(T + 1))


def _pairwise(x):
    x = x.double()
    return (x[:, None] - x[None]).norm(dim=-1)


def test_rotation_preserves_distances_and_rotates_flows():
    s = _sample()
    r = rotate_z(s, 0.7)
    for t in range(s.points.shape[0]):
        torch.testing.assert_close(_pairwise(r.points[t]), _pairwise(s.points[t]), atol=1e-5, rtol=0)
    c, si = math.cos(0.7), math.sin(0.7)
    R = torch.tensor([[c, -si, 0], [si, c, 0], [0, 0, 1.0]])
    torch.testing.assert_close(r.flow, s.flow @ R.T, atol=1e-6, rtol=0)
    torch.testing.assert_close(r.robot_points, s.robot_points @ R.T, atol=1e-6, rtol=0)
    torch.testing.assert_close(r.normals, s.normals @ R.T, atol=1e-6, rtol=0)
    torch.testing.assert_close(r.points[:, :, 2], s.points[:, :, 2])


def test_flip_and_scale():
    s = _sample()
    f = flip_y(s)
    torch.testing.assert_close(f.points[..., 1], -s.points[..., 1])
    torch.testing.assert_close(f.robot_points[..., 1], -s.robot_points[..., 1])
    torch.testing.assert_close(_pairwise(f.points[2]), _pairwise(s.points[2]), atol=1e-5, rtol=0)
    k = scale(s, 1.07)
    torch.testing.assert_close(k.flow, s.flow * 1.07)
    torch.testing.assert_close(k.robot_points, s.robot_points * 1.07)


def test_voxelize_keeps_each_points_own_future():
    s = _sample(n=2000)
    v = voxelize(s, 0.05)
    keys = torch.floor((v.points[0] + 0.025) / 0.05).long()
    assert len(torch.unique(keys, dim=0)) == v.points.shape[1] < 2000
    # Every kept point is an original point with its own trajectory (no averaging).
    idx = torch.cdist(v.points[0], s.points[0]).argmin(dim=1)
    torch.testing.assert_close(v.points, s.points[:, idx])
    torch.testing.assert_close(v.colors, s.colors[idx])


def test_cap_and_sphere_removal():
    s = _sample(n=500)
    g = torch.Generator().manual_seed(1)
    assert cap_points(s, 120, g).points.shape == (5, 120, 3)
    r = remove_spheres(s, g, count=3, radius=(0.1, 0.1), min_robot_dist=0.15)
    assert r.points.shape[1] < 500
    # Spheres (radius 10 cm) are centred > 15 cm from the robot: points within 5 cm stay.
    near = torch.cdist(s.points[0], s.robot_points.reshape(-1, 3)).amin(1) < 0.05
    kept = torch.cdist(s.points[0][near], r.points[0]).amin(1) == 0
    assert kept.all()


def test_augment_is_seeded_and_consistent():
    s = _sample(n=1500)
    cfg = AugmentConfig(max_points=300, drop_prob=1.0)
    a = augment(s, cfg, torch.Generator().manual_seed(5))
    b = augment(s, cfg, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a.points, b.points)
    assert a.points.shape[1] <= 300 and a.valid.shape == a.points.shape[:2]
    # Without point selection the geometric part is one similarity transform for every
    # step and for the robot: all distance ratios equal one global scale in [0.9, 1.1].
    geo = augment(s, AugmentConfig(drop_prob=0.0, voxel_size=0.0), torch.Generator().manual_seed(9))
    ratios = torch.stack([_pairwise(geo.points[t])[0, 1:] / _pairwise(s.points[t])[0, 1:] for t in range(5)])  # row 0 only: cheap
    k = float(ratios.mean())
    assert 0.9 <= k <= 1.1
    torch.testing.assert_close(ratios, torch.full_like(ratios, k), atol=1e-4, rtol=0)
    rr = torch.cdist(geo.robot_points[2].double(), geo.points[2].double()) / torch.cdist(s.robot_points[2].double(), s.points[2].double())
    torch.testing.assert_close(rr, torch.full_like(rr, k), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="scale_range"):
        AugmentConfig(scale_range=(0.0, 1.0))


def test_clip_to_sample_robot_flows():
    clip = make_clip("k", T=3)
    s = clip_to_sample(clip)
    assert s.robot_points.shape == (4, 500, 3) and s.points.shape == (4, 40, 3)
    assert s.valid.shape == (4, 40) and s.colors.max() <= 1.0
    # The first joint turns: robot points at t=3 differ from t=0.
    assert (s.robot_points[3] - s.robot_points[0]).norm(dim=-1).max() > 0.01
    a = augment(s, AugmentConfig(), torch.Generator().manual_seed(0))
    assert a.robot_points.shape == (4, 500, 3)
