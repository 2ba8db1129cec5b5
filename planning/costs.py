"""Cost terms of a batch of K candidate plans. Each returns (K,) float, lower is better.

Shapes: xyz (N, 3) scene points at t0; flow (K, T, N, 3) predicted displacements (m);
robot_flow (K, T+1, M, 3) robot points (m); q (K, T+1, J) joint positions with q[:, 0] = q0.

The planner's own terms are generic (:data:`GENERIC_TERMS`: the goal, other points staying
still, smooth and small actions, joint limits, the table). A task adds its own terms (a push
task's shaping, ``pointwm.tasks.push.COST_TERMS``) as :data:`CostTerm` callables by name
(``MPPIPlanner(config, cost_terms=...)``); every term counts with its weight in
``PlannerConfig.weights`` (0, not computed, when absent). :func:`total_cost` returns the
weighted terms by name, so every term can be reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from planning.config import GOAL_STEPS, PlannerConfig
from planning.dynamics import Rollout
from planning.errors import PlanningError
from planning.goal import ResolvedGoal

__all__ = [
    "GENERIC_TERMS",
    "CostInputs",
    "CostTerm",
    "JointLimits",
    "action_size_cost",
    "goal_cost",
    "joint_limit_cost",
    "smoothness_cost",
    "still_cost",
    "table_cost",
    "term_names",
    "total_cost",
]


@dataclass(frozen=True)
class JointLimits:
    """The robot's limits as the planner holds them: lower, upper (J,) positions (rad, m) and
    step_bound (J,) the largest move per step (velocity_limits * dt)."""

    lower: Tensor
    upper: Tensor
    step_bound: Tensor


@dataclass(frozen=True)
class CostInputs:
    """Everything a cost term may look at for one evaluated batch of K candidates.

    xyz: (N, 3) float32 scene points at t0 (m); flow: (K, T, N, 3) float32 predicted
    displacements (m); rollout: the candidates' joint paths q (K, T+1, J) and robot points
    robot_flow (K, T+1, M, 3); goal: the resolved goal; limits: the joint limits; config: the
    planner's settings (term parameters such as ``goal_steps`` or ``table_z``).
    """

    xyz: Tensor
    flow: Tensor
    rollout: Rollout
    goal: ResolvedGoal
    limits: JointLimits
    config: PlannerConfig


CostTerm = Callable[[CostInputs], Tensor]  # -> (K,) unweighted cost, lower is better


def goal_cost(xyz: Tensor, flow: Tensor, goal: ResolvedGoal, steps: str = "last") -> Tensor:
    """(K,) mean distance (m) of the goal points to their targets: at the goal's step
    (``steps="last"``), or averaged over steps 1 to the goal's step (``"all"``: progress
    made early counts, as in a receding horizon only the first steps are executed)."""
    if steps not in GOAL_STEPS:
        raise PlanningError(f"goal_cost: steps: expected one of {list(GOAL_STEPS)}, got {steps!r}")
    if steps == "last":
        pos = xyz[goal.index] + flow[:, goal.step, goal.index]  # (K, G, 3)
        return goal.distance(pos).mean(-1)
    pos = xyz[goal.index] + flow[:, : goal.step + 1, goal.index]  # (K, S, G, 3)
    K, S, G, _ = pos.shape
    return goal.distance(pos.reshape(K * S, G, 3)).reshape(K, S, G).mean((1, 2))


def still_cost(flow: Tensor, goal: ResolvedGoal) -> Tensor:
    """(K,) mean displacement (m) of the points outside the goal, over all steps."""
    other = ~goal.mask
    if not bool(other.any()):
        return flow.new_zeros(flow.shape[0])
    return torch.linalg.vector_norm(flow[:, :, other], dim=-1).mean((1, 2))


def _scaled_diff(q: Tensor, step_bound: Tensor) -> Tensor:
    return torch.diff(q, dim=1) / step_bound  # (K, T, J) in units of the per-step bound


def action_size_cost(q: Tensor, step_bound: Tensor) -> Tensor:
    """(K,) mean squared joint velocity, in units of the per-step bound (velocity_limits * dt)."""
    return _scaled_diff(q, step_bound).square().mean((1, 2))


def smoothness_cost(q: Tensor, step_bound: Tensor) -> Tensor:
    """(K,) mean squared joint acceleration (second difference, starting from rest at q0)."""
    v = _scaled_diff(q, step_bound)
    v = torch.cat([torch.zeros_like(v[:, :1]), v], dim=1)
    return torch.diff(v, dim=1).square().mean((1, 2))


def joint_limit_cost(q: Tensor, lower: Tensor, upper: Tensor, margin: float) -> Tensor:
    """(K,) squared intrusion into the margin band near the limits, as a fraction of range.

    Summed over joints, averaged over steps 1..T; zero while every joint keeps ``margin``
    (fraction of its range) from both limits.
    """
    rng = (upper - lower).clamp_min(1e-9)
    frac_lo = (q[:, 1:] - lower) / rng
    frac_hi = (upper - q[:, 1:]) / rng
    pen = torch.clamp(margin - frac_lo, min=0).square() + torch.clamp(margin - frac_hi, min=0).square()
    return pen.sum(-1).mean(-1)


def table_cost(robot_flow: Tensor, table_z: float, clearance: float) -> Tensor:
    """(K,) depth (m) of the deepest robot point below its allowed height, worst step.

    A point's allowed height is ``table_z + clearance``, or its own height at step 0 when it
    starts lower (a base bolted to the table is not penalised for staying where it is).
    """
    z = robot_flow[..., 2]  # (K, T+1, M)
    floor = torch.clamp(z[:, :1], max=table_z + clearance)
    return torch.clamp(floor - z[:, 1:], min=0).amax(dim=(1, 2))


GENERIC_TERMS: dict[str, CostTerm] = {
    "goal": lambda c: goal_cost(c.xyz, c.flow, c.goal, c.config.goal_steps),
    "still": lambda c: still_cost(c.flow, c.goal),
    "smoothness": lambda c: smoothness_cost(c.rollout.q, c.limits.step_bound),
    "size": lambda c: action_size_cost(c.rollout.q, c.limits.step_bound),
    "joint_limit": lambda c: joint_limit_cost(c.rollout.q, c.limits.lower, c.limits.upper, c.config.joint_limit_margin),
    "table": lambda c: table_cost(c.rollout.robot_flow, c.config.table_z, c.config.table_clearance),
}


def term_names(extra: Mapping[str, CostTerm]) -> tuple[str, ...]:
    """The order in which terms are summed and reported: the goal, then the task's ``extra``
    terms in their order, then the generic regularisers."""
    return ("goal", *extra, *(n for n in GENERIC_TERMS if n != "goal"))


def total_cost(inputs: CostInputs, extra: Mapping[str, CostTerm]) -> tuple[Tensor, dict[str, Tensor]]:
    """(K,) total cost and the weighted (K,) terms by name, in :func:`term_names`' order:
    every generic term and every ``extra`` term times its weight in ``inputs.config.weights``
    (a term whose weight is 0 or absent is not computed and reported as zeros)."""
    w = inputs.config.weights
    flow = inputs.flow
    terms = {}
    for name in term_names(extra):
        weight = w.get(name, 0.0)
        fn = extra[name] if name in extra else GENERIC_TERMS[name]
        terms[name] = (weight * fn(inputs) if weight > 0 else flow.new_zeros(flow.shape[0])).to(flow.dtype)
    return sum(terms.values()), terms
