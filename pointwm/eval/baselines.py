"""Baseline flow predictors reported beside the model in every evaluation."""

from __future__ import annotations

import torch
from torch import Tensor

from pointwm.errors import InputError


def zero_flow(scene_xyz: Tensor, robot_flow: Tensor) -> Tensor:
    """Nothing moves: (T, N, 3) zeros for scene_xyz (N, 3) and robot_flow (T+1, M, 3)."""
    T = robot_flow.shape[-3] - 1
    return scene_xyz.new_zeros((T, scene_xyz.shape[0], 3))


def nearest_robot_point_flow(scene_xyz: Tensor, robot_flow: Tensor, radius: float = 0.03) -> Tensor:
    """Scene points near the robot follow their nearest robot point; the rest stay still.

    scene_xyz: (N, 3) metres at t0; robot_flow: (T+1, M, 3) robot surface points at steps
    0..T. A scene point within ``radius`` metres of a robot point at t0 moves by that robot
    point's displacement from t0 at every step. Returns (T, N, 3) metres.
    """
    if robot_flow.ndim != 3 or robot_flow.shape[-1] != 3:
        raise InputError(f"robot_flow: expected (T+1, M, 3), got {tuple(robot_flow.shape)}")
    n = scene_xyz.shape[0]
    flow = scene_xyz.new_zeros((robot_flow.shape[0] - 1, n, 3))
    if n == 0 or robot_flow.shape[1] == 0:
        return flow
    dist, nearest = torch.cdist(scene_xyz.float(), robot_flow[0].float()).min(dim=1)  # (N,)
    near = (dist <= radius).nonzero().squeeze(1)
    robot_disp = robot_flow[1:] - robot_flow[:1]  # (T, M, 3)
    flow[:, near] = robot_disp[:, nearest[near]].to(flow.dtype)
    return flow
