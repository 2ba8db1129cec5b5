"""The planner's error type."""

from __future__ import annotations

from pointwm.errors import PointwmError

__all__ = ["PlanningError"]


class PlanningError(PointwmError, ValueError):
    """Bad planner input (q0 outside the limits, a robot flow that does not match, a cost
    weight that no term answers to, ...)."""
