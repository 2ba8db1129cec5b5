"""The MuJoCo table-top world shared by data generation and evaluation.

``SimWorld`` (a scene, a world config and the robot's joints in MuJoCo: drive the robot,
step, snapshot, render, scene points), scene specs and their MJCF (``scene``), rendering
(``render``) and the simulator as planning dynamics (``SimDynamics``, the oracle). It never
imports ``pointwm.data`` or ``pointwm.eval``.

Headless rendering: ``MUJOCO_GL`` defaults to ``egl`` here, before MuJoCo's first import.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from pointwm.sim.config import OBJECT_SHAPES, WorldConfig  # noqa: E402
from pointwm.sim.oracle import SimDynamics  # noqa: E402
from pointwm.sim.scene import (  # noqa: E402
    SEG_BACKGROUND,
    SEG_ROBOT,
    CameraSpec,
    ObjectSpec,
    SceneSpec,
    build_mjcf,
    clear_of_table,
    sample_scene,
    sim_robot,
)
from pointwm.sim.world import SimWorld  # noqa: E402

__all__ = [
    "OBJECT_SHAPES",
    "SEG_BACKGROUND",
    "SEG_ROBOT",
    "CameraSpec",
    "ObjectSpec",
    "SceneSpec",
    "SimDynamics",
    "SimWorld",
    "WorldConfig",
    "build_mjcf",
    "clear_of_table",
    "sample_scene",
    "sim_robot",
]
