"""Inverse kinematics of a robot's tool link, and tool orientations.

Damped least squares (Nakamura & Hanafusa 1986; Buss 2004) on the batched forward
kinematics of :class:`kinematics.RobotModel`, with a finite-difference Jacobian (one FK call
of A+1 configurations per iteration): tool position plus, optionally, orientation. The tool
is ``RobotModel.tool_link_names[0]`` (the robot YAML's ``tool_links``) unless a link is named.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from kinematics.errors import KinematicsError

__all__ = ["arm_and_grippers", "dls_ik", "down_rotation", "reach_from_above", "tool_link_index"]


def tool_link_index(robot) -> int:
    """Index into ``robot.link_names`` of the robot's first tool link (``tool_link_names``)."""
    if not robot.tool_link_names:
        raise KinematicsError(f"robot {robot.name!r}: no tool links (set tool_links in its YAML)")
    return robot.link_names.index(robot.tool_link_names[0])


def arm_and_grippers(robot) -> tuple[np.ndarray, np.ndarray]:
    """(arm, grippers): indices into the action joints of the joints that move the arm (A,)
    and of those that open the grippers (G,)."""
    grip = [robot.joint_names.index(n) for n in robot.gripper_joint_names]
    arm = [i for i in range(robot.num_joints) if i not in grip]
    return np.array(arm), np.array(grip, dtype=np.int64)


def down_rotation(yaw: float) -> np.ndarray:
    """(3, 3) tool orientation with its z axis pointing down and its x axis along ``yaw``
    (rad, about the world z axis)."""
    z = np.array([0.0, 0.0, -1.0])
    x = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def _rot_error(R: Tensor, Rd: Tensor) -> Tensor:
    """(..., 3) orientation error (small-angle rotation vector taking R to Rd)."""
    Rd = Rd.expand_as(R)
    return 0.5 * sum(torch.linalg.cross(R[..., :, i], Rd[..., :, i], dim=-1) for i in range(3))


def dls_ik(robot, q_init: np.ndarray, pos: np.ndarray, R: np.ndarray | None, joints: np.ndarray,
           iters: int = 40, damping: float = 0.05, rot_weight: float = 0.3, tol: float = 1e-3,
           link: int | None = None) -> tuple[np.ndarray, float]:
    """Joint positions whose tool link reaches ``pos`` (3,) m (and orientation ``R`` (3, 3)).

    q_init: (J,) start (rad, m); joints: (A,) indices of the joints IK may move (the others
    stay); link: index of the link to place (default: :func:`tool_link_index`). Each
    iteration takes a damped step (clipped to 0.3 per joint) and clamps to the position
    limits. Stops when the position error is under ``tol`` (m) and the orientation error
    under 0.02. Returns (q (J,) float64, the position error in metres).
    """
    link = tool_link_index(robot) if link is None else link
    lo, hi = robot.lower.numpy(), robot.upper.numpy()
    q = np.clip(np.asarray(q_init, dtype=np.float64), lo, hi)
    target = torch.as_tensor(pos, dtype=torch.float64)
    Rd = None if R is None else torch.as_tensor(R, dtype=torch.float64)
    eps = 1e-5
    A = len(joints)
    err_pos = math.inf
    for _ in range(iters):
        batch = np.repeat(q[None], A + 1, axis=0)
        batch[np.arange(1, A + 1), joints] += eps
        poses = robot.link_poses(torch.from_numpy(batch), validate=False)[:, link]  # (A+1, 4, 4)
        p = poses[:, :3, 3]
        e = [target - p]
        if Rd is not None:
            e.append(rot_weight * _rot_error(poses[:, :3, :3], Rd))
        e = torch.cat(e, dim=-1)  # (A+1, 3 or 6)
        err_pos = float(torch.linalg.norm(target - p[0]))
        if err_pos < tol and (Rd is None or float(torch.linalg.norm(e[0, 3:])) < 0.02):
            break
        Jm = -(e[1:] - e[:1]).T.numpy() / eps  # (3|6, A): d(error)/dq, negated -> d(task)/dq
        r = e[0].numpy()
        dq = Jm.T @ np.linalg.solve(Jm @ Jm.T + damping**2 * np.eye(Jm.shape[0]), r)
        step = np.clip(dq, -0.3, 0.3)
        q[joints] = np.clip(q[joints] + step, lo[joints], hi[joints])
    return q, err_pos


def reach_from_above(robot, q_init: np.ndarray, pos: np.ndarray, R: np.ndarray, joints: np.ndarray,
                     above: float = 0.15, iters: int = 60) -> tuple[np.ndarray, float]:
    """:func:`dls_ik` to ``pos`` (3,) m at orientation ``R`` (3, 3) from ``q_init`` (J,) by way
    of the pose ``above`` metres higher, so that the solution keeps the arm's elbow up and
    the hand over the table. Returns (q (J,), the position error in metres)."""
    q, _ = dls_ik(robot, q_init, pos + np.array([0.0, 0.0, above]), R, joints, iters=iters)
    return dls_ik(robot, q, pos, R, joints, iters=iters)
