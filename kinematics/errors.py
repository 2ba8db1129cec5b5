"""The one error type of the kinematics package."""

from __future__ import annotations

from pointwm.errors import PointwmError

__all__ = ["KinematicsError"]


class KinematicsError(PointwmError, ValueError):
    """Bad kinematics input: a URDF, a mesh, a robot YAML, a joint vector or a joint name.

    The message always names the offending input (a file path, a joint or link name, or an
    argument name) and says what was expected.
    """
