"""MPPI planning against goal flows: goals, costs, the planner, closed-loop evaluation.

    from planning import MPPIPlanner, PlannerConfig, Goal
    plan = MPPIPlanner(PlannerConfig.from_yaml("default")).plan(model, scene, robot, q0, goal)
"""

from planning.config import CostWeights, PlannerConfig
from planning.costs import COST_TERMS
from planning.goal import Goal, GoalError, ResolvedGoal
from planning.mppi import (
    Dynamics,
    MPPIPlanner,
    Plan,
    PlanningError,
    RandomShootingPlanner,
    limit_tool_speed,
    project_to_limits,
    shift_sequence,
    world_model_dynamics,
)

__all__ = [
    "COST_TERMS",
    "CostWeights",
    "Dynamics",
    "Goal",
    "GoalError",
    "MPPIPlanner",
    "Plan",
    "PlannerConfig",
    "PlanningError",
    "RandomShootingPlanner",
    "ResolvedGoal",
    "limit_tool_speed",
    "project_to_limits",
    "shift_sequence",
    "world_model_dynamics",
]
