"""Manipulation tasks in the simulator: what is asked, where the robot starts, how success
is judged, the task's own planner cost terms and optional scripted primitives.

``pointwm.tasks.push``: push one object to a target (``PushTask``, ``make_task``,
``PushEnv``, its cost terms ``push.COST_TERMS``); ``pointwm.tasks.reposition``: the push's scripted
repositioning move (``RepositionMove``).
"""

from pointwm.tasks import push
from pointwm.tasks.push import PushConfig, PushEnv, PushTask, make_task, push_start_joints
from pointwm.tasks.reposition import RepositionMove

COST_TERMS = {**push.COST_TERMS}
"""Every task's planner cost terms by name (``reach``, ``approach``), for planner presets
that weigh them outside a task's own loop (``pointwm plan``, ``pointwm demo``)."""

__all__ = ["COST_TERMS", "PushConfig", "PushEnv", "PushTask", "RepositionMove", "make_task", "push_start_joints"]
