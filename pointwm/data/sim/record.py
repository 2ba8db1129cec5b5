"""Clips from simulated runs: keys, provenance and the checked ``Clip`` of one recorded run.

Shared by the generator's scripted motions (``generator``) and the push-task states
(``task_states``).
"""

from __future__ import annotations

import mujoco
import numpy as np

from pointwm.data.clip import CameraView, Clip
from pointwm.errors import PointwmError
from pointwm.sim.config import WorldConfig
from pointwm.sim.render import camera_intrinsics, camera_pose
from pointwm.sim.scene import SceneSpec

__all__ = ["GENERATOR", "MAX_ATTEMPTS", "GenerationError", "assemble_clip", "clip_key", "mujoco_source"]

GENERATOR = "pointwm.data.sim"
MAX_ATTEMPTS = 12  # scenes (or tasks) drawn for one clip before it is given up


class GenerationError(PointwmError, RuntimeError):
    """A clip could not be generated (e.g. no reachable motion in MAX_ATTEMPTS scenes)."""


def clip_key(seed: int, index: int) -> str:
    return f"sim-s{seed}-{index:08d}"


def mujoco_source() -> str:
    return f"mujoco {mujoco.__version__}"


def assemble_clip(key: str, cfg: WorldConfig, robot, scene: SceneSpec, q: np.ndarray, views: list[dict],
                  X: np.ndarray, pts: tuple, provenance: dict) -> Clip:
    """A checked ``Clip`` from one simulated run: joint path q (T+1, J), the t0 ``views``
    (:func:`pointwm.sim.render.render_views`), object poses X (T+1, K, 4, 4) and the t0 points ``pts``
    (:func:`pointwm.sim.render.scene_points`). Each point of body k moves with ``X_k(t) X_k(0)^-1``."""
    xyz, col, seg, cam, normals = pts
    T1 = q.shape[0]
    points = np.repeat(xyz[None], T1, axis=0)
    for k in range(X.shape[1]):
        m = seg == k + 1
        if m.any():
            rel = X[:, k] @ np.linalg.inv(X[0, k])  # (T+1, 4, 4): t0 frame -> step t
            points[:, m] = np.einsum("tij,nj->tni", rel[:, :3, :3], xyz[m]) + rel[:, None, :3, 3]
    grip = [robot.joint_names.index(n) for n in robot.gripper_joint_names]
    lo, hi = robot.lower.numpy(), robot.upper.numpy()
    gripper = (q[:, grip] - lo[grip]) / np.maximum(hi[grip] - lo[grip], 1e-9) if grip else np.ones((T1, 1))
    cams = tuple(
        CameraView(f"cam{i}", v["rgb"], v["depth"],
                   camera_intrinsics(cfg, c).K.numpy(), camera_pose(c).numpy(), v["seg"])
        for i, (v, c) in enumerate(zip(views, scene.cameras, strict=True))
    )
    return Clip(
        key=key,
        robot=cfg.robot,
        joint_names=tuple(robot.joint_names),
        q=q.astype(np.float32),
        gripper=gripper.mean(axis=1).astype(np.float32),
        points=points.astype(np.float32),
        colors=col.astype(np.uint8),
        normals=normals,
        valid=np.ones(len(xyz), bool),
        visible=np.ones((T1, len(xyz)), bool),
        point_camera=cam,
        segment=seg,
        cameras=cams,
        dt=cfg.step_dt,
        provenance=provenance,
    ).check()
