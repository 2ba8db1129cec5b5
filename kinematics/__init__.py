"""URDF -> batched forward kinematics and robot surface point flows.

Parse (``urdf``), compile (``tree``), then pure batched FK; ``RobotModel`` is the
name-keyed layer on top. Nothing outside this package knows which robot it is.
"""

from kinematics.config import (
    RobotConfig,
    find_robot_config,
    list_robots,
    load_robot,
    load_robot_config,
)
from kinematics.errors import KinematicsError
from kinematics.ik import arm_and_grippers, dls_ik, down_rotation, reach_from_above, tool_link_index
from kinematics.model import RobotModel
from kinematics.scene import remove_robot, render_robot_mask, robot_point_mask
from kinematics.tree import KinematicTree, compile_tree, forward_kinematics
from kinematics.urdf import RobotDescription, parse_urdf, resolve_mesh_path

__all__ = [
    "KinematicTree",
    "KinematicsError",
    "RobotConfig",
    "RobotDescription",
    "RobotModel",
    "arm_and_grippers",
    "compile_tree",
    "dls_ik",
    "down_rotation",
    "find_robot_config",
    "forward_kinematics",
    "list_robots",
    "load_robot",
    "load_robot_config",
    "parse_urdf",
    "reach_from_above",
    "remove_robot",
    "render_robot_mask",
    "resolve_mesh_path",
    "robot_point_mask",
    "tool_link_index",
]
