"""Removing the robot from a scene cloud and rendering its mask into a camera image."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from kinematics import KinematicsError, remove_robot, render_robot_mask, robot_point_mask
from pointwm.geometry import PointCloud, look_at


def test_removal_keeps_scene_drops_robot(panda):
    q = panda.default_q
    g = torch.Generator().manual_seed(0)
    on_robot = panda.dense_points(q, 0.006)[::10]
    on_robot = on_robot + 0.003 * torch.randn(on_robot.shape, generator=g, dtype=on_robot.dtype)
    table = torch.stack(torch.meshgrid(torch.linspace(0.2, 0.9, 60), torch.linspace(-0.4, 0.4, 60),
                                       indexing="ij"), -1).reshape(-1, 2)
    table = torch.cat([table, torch.full((len(table), 1), -0.05)], 1).double()  # 5 cm below the base
    cloud = PointCloud(torch.cat([on_robot, table]).float())
    mask = robot_point_mask(panda, cloud.xyz, q, margin=0.01)
    assert mask.dtype == torch.bool and mask.shape == (len(cloud),)
    assert mask[: len(on_robot)].float().mean() > 0.99
    assert not mask[len(on_robot):].any()
    kept = remove_robot(panda, cloud, q, margin=0.01)
    assert len(kept) == len(cloud) - int(mask.sum())


def test_removal_margin_is_a_distance(panda):
    # A point 2 cm above the top of the hand is kept with a 1 cm margin, dropped with 3 cm.
    q = panda.default_q
    pts = panda.dense_points(q, 0.004)
    top = pts[pts[:, 2].argmax()]
    probe = (top + torch.tensor([0.0, 0.0, 0.02], dtype=top.dtype))[None]
    assert not robot_point_mask(panda, probe, q, margin=0.01).item()
    assert robot_point_mask(panda, probe, q, margin=0.03).item()


def test_removal_bad_input(panda):
    with pytest.raises(KinematicsError, match="xyz: expected a tensor of shape"):
        robot_point_mask(panda, torch.zeros(5, 2), panda.default_q)
    with pytest.raises(KinematicsError, match="margin"):
        robot_point_mask(panda, torch.zeros(5, 3), panda.default_q, margin=-1.0)
    with pytest.raises(KinematicsError, match=r"q: expected one configuration"):
        robot_point_mask(panda, torch.zeros(5, 3), panda.default_q.expand(2, -1))


def _camera(width=96, height=72, fov_y=60.0):
    f = 0.5 * height / math.tan(math.radians(fov_y) / 2)
    return SimpleNamespace(fx=f, fy=f, cx=(width - 1) / 2, cy=(height - 1) / 2, width=width, height=height)


def test_mask_matches_projected_points(panda):
    K = _camera()
    T = look_at((1.4, 0.3, 0.7), (0.3, 0.0, 0.4))
    mask = render_robot_mask(panda, panda.default_q, K, T)
    assert mask.shape == (72, 96) and mask.dtype == torch.bool
    assert 0.02 < mask.float().mean() < 0.6
    # Every model surface point projects onto the mask.
    from pointwm.geometry import invert_transform, transform_points

    cam = transform_points(invert_transform(T), panda.surface_points(panda.default_q))
    u = torch.round(K.fx * cam[:, 0] / cam[:, 2] + K.cx).long()
    v = torch.round(K.fy * cam[:, 1] / cam[:, 2] + K.cy).long()
    inside = (u >= 0) & (u < 96) & (v >= 0) & (v < 72)
    assert mask[v[inside], u[inside]].all()
    # A camera looking away sees nothing; plain dict intrinsics work too.
    away = look_at((1.4, 0.3, 0.7), (3.0, 0.6, 0.9))
    assert not render_robot_mask(panda, panda.default_q, vars(K), away).any()


def test_mask_respects_occluding_depth(panda):
    K = _camera()
    T = look_at((1.4, 0.3, 0.7), (0.3, 0.0, 0.4))
    full = render_robot_mask(panda, panda.default_q, K, T)
    near = torch.full((72, 96), 0.3)  # a wall 30 cm in front of the camera hides the robot
    assert not render_robot_mask(panda, panda.default_q, K, T, depth=near).any()
    nothing = torch.zeros(72, 96)  # no depth readings: the silhouette stays
    assert torch.equal(render_robot_mask(panda, panda.default_q, K, T, depth=nothing), full)
    with pytest.raises(KinematicsError, match=r"depth: expected a tensor of shape \(72, 96\)"):
        render_robot_mask(panda, panda.default_q, K, T, depth=torch.zeros(10, 10))
    with pytest.raises(TypeError, match="intrinsics"):
        render_robot_mask(panda, panda.default_q, object(), T)
