"""Clip -> training sample: tensors, with robot point flows recomputed from the joints.

Robot points are never stored in archives: the joint trajectory is, and the robot's M
surface points at steps 0..T come from ``kinematics`` at load time, so a clip works with any
robot-point count or sampling seed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from kinematics import KinematicsError, load_robot
from pointwm.data.clip import Clip, ClipError

__all__ = ["TrainSample", "clip_to_sample", "load_clip_robot", "robot_by_name"]


@dataclass(frozen=True, eq=False)
class TrainSample:
    """One clip as tensors (CPU, float32), world frame, metres.

    points:      (T+1, N, 3) scene point positions at steps 0..T (``points[0]`` is t0).
    colors:      (N, 3) float32 in [0, 1].
    normals:     (N, 3) unit normals at t0 (zero where unknown).
    valid:       (T+1, N) bool: ground truth usable at step t (clip ``valid & visible``).
    robot_points: (T+1, M, 3) robot surface points at steps 0..T (a RobotFlow).
    q:           (T+1, J) joint positions; gripper: (T+1,) opening in [0, 1].
    key, robot:  clip key and robot name.
    """

    points: Tensor
    colors: Tensor
    normals: Tensor
    valid: Tensor
    robot_points: Tensor
    q: Tensor
    gripper: Tensor
    key: str = ""
    robot: str = ""

    @property
    def flow(self) -> Tensor:
        """(T, N, 3) SceneFlow: displacement from t0 for steps 1..T."""
        return self.points[1:] - self.points[:1]

    def replace(self, **changes) -> TrainSample:
        return replace(self, **changes)


@functools.lru_cache(maxsize=16)
def robot_by_name(name: str, num_points: int = 500):
    """The RobotModel ``name`` with ``num_points`` points, as clips use it (cached; ClipError)."""
    try:
        return load_robot(name, num_points=int(num_points))
    except KinematicsError as e:
        raise ClipError(str(e)) from None


def load_clip_robot(clip: Clip, num_points: int = 500):
    """The RobotModel of ``clip.robot`` (cached), checked against the clip's joint names.

    Raises ``ClipError`` naming the clip for an unknown robot name or joints that differ.
    """
    try:
        robot = robot_by_name(clip.robot, int(num_points))
    except ClipError as e:
        raise ClipError(f"clip {clip.key!r}: robot {clip.robot!r}: {e}") from None
    if tuple(robot.joint_names) != tuple(clip.joint_names):
        raise ClipError(
            f"clip {clip.key!r}: joint_names {list(clip.joint_names)} do not match robot "
            f"{clip.robot!r} joints {list(robot.joint_names)}"
        )
    return robot


def clip_to_sample(clip: Clip, num_robot_points: int = 500) -> TrainSample:
    """Tensors of ``clip`` plus its robot point flow (T+1, M, 3) from forward kinematics."""
    robot = load_clip_robot(clip, num_robot_points)
    q = torch.from_numpy(np.asarray(clip.q, dtype=np.float64))
    lo, hi = robot.lower, robot.upper
    q = torch.minimum(torch.maximum(q, lo), hi)  # recorded joints may overshoot limits by noise
    robot_points = robot.point_flow(q).float()
    return TrainSample(
        points=torch.from_numpy(np.ascontiguousarray(clip.points, dtype=np.float32)),
        colors=torch.from_numpy(clip.colors.astype(np.float32) / 255.0),
        normals=torch.from_numpy(np.ascontiguousarray(clip.normals, dtype=np.float32)),
        valid=torch.from_numpy(clip.visible & clip.valid[None, :]),
        robot_points=robot_points,
        q=q.float(),
        gripper=torch.from_numpy(np.ascontiguousarray(clip.gripper, dtype=np.float32)),
        key=clip.key,
        robot=clip.robot,
    )
