"""Kinematics fixtures: the project's robots and pybullet_data's URDFs (built once per session)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kinematics import RobotModel, load_robot

# The test modules import the plain helpers in kin_helpers.py (not fixtures) directly.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kin_helpers import pybullet_urdf  # noqa: E402


@pytest.fixture(scope="session")
def panda() -> RobotModel:
    return load_robot("panda")


@pytest.fixture(scope="session")
def bimanual() -> RobotModel:
    return load_robot("bimanual_panda")


@pytest.fixture(scope="session")
def pb_panda() -> RobotModel:
    # Collision meshes (OBJ, package://meshes/...) keep loading fast; visual meshes are
    # loaded once in test_points.py.
    return RobotModel.from_urdf(pybullet_urdf("franka_panda/panda.urdf"), num_points=300, geometry="collision")


@pytest.fixture(scope="session")
def pb_kuka() -> RobotModel:
    # Visual OBJ meshes and collision STL meshes, relative paths "meshes/link_0.obj".
    return RobotModel.from_urdf(pybullet_urdf("kuka_iiwa/model.urdf"), num_points=300)
