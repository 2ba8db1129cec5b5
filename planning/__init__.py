"""MPPI planning against goal flows: goals, generic costs, the dynamics contract, the planner.

    from planning import MPPIPlanner, PlannerConfig, Goal
    plan = MPPIPlanner(PlannerConfig.from_yaml("default")).plan(model, scene, robot, q0, goal)

A task adds its own cost terms by name: ``MPPIPlanner(config, cost_terms=...)``.
"""

from planning.config import CostWeights, PlannerConfig
from planning.costs import GENERIC_TERMS, CostInputs, CostTerm, JointLimits
from planning.dynamics import Dynamics, Rollout, as_dynamics, world_model_dynamics, zero_dynamics
from planning.goal import Goal, GoalError, ResolvedGoal
from planning.mppi import (
    MPPIPlanner,
    Plan,
    PlanningError,
    RandomShootingPlanner,
    limit_tool_speed,
    project_to_limits,
    shift_sequence,
)

__all__ = [
    "GENERIC_TERMS",
    "CostInputs",
    "CostTerm",
    "CostWeights",
    "Dynamics",
    "Goal",
    "GoalError",
    "JointLimits",
    "MPPIPlanner",
    "Plan",
    "PlannerConfig",
    "PlanningError",
    "RandomShootingPlanner",
    "ResolvedGoal",
    "Rollout",
    "as_dynamics",
    "limit_tool_speed",
    "project_to_limits",
    "shift_sequence",
    "world_model_dynamics",
    "zero_dynamics",
]
