"""Cost terms of a batch of K candidate plans. Each returns (K,) float, lower is better.

Shapes: xyz (N, 3) scene points at t0; flow (K, T, N, 3) predicted displacements (m);
robot_flow (K, T+1, M, 3) robot points (m); q (K, T+1, J) joint positions with q[:, 0] = q0.
``total_cost`` weighs them with :class:`planning.config.CostWeights` and returns the
weighted terms by name, so every term can be reported.
"""

from __future__ import annotations

import torch
from torch import Tensor

from planning.config import GOAL_STEPS, PlannerConfig
from planning.goal import ResolvedGoal

__all__ = [
    "COST_TERMS",
    "action_size_cost",
    "approach_cost",
    "goal_cost",
    "joint_limit_cost",
    "reach_cost",
    "smoothness_cost",
    "still_cost",
    "table_cost",
    "total_cost",
]

COST_TERMS = ("goal", "reach", "approach", "still", "smoothness", "size", "joint_limit", "table")


def goal_cost(xyz: Tensor, flow: Tensor, goal: ResolvedGoal, steps: str = "last") -> Tensor:
    """(K,) mean distance (m) of the goal points to their targets: at the goal's step
    (``steps="last"``), or averaged over steps 1 to the goal's step (``"all"``: progress
    made early counts, as in a receding horizon only the first steps are executed)."""
    if steps not in GOAL_STEPS:
        raise ValueError(f"goal_cost: steps: expected one of {list(GOAL_STEPS)}, got {steps!r}")
    if steps == "last":
        pos = xyz[goal.index] + flow[:, goal.step, goal.index]  # (K, G, 3)
        return goal.distance(pos).mean(-1)
    pos = xyz[goal.index] + flow[:, : goal.step + 1, goal.index]  # (K, S, G, 3)
    K, S, G, _ = pos.shape
    return goal.distance(pos.reshape(K * S, G, 3)).reshape(K, S, G).mean((1, 2))


def reach_cost(xyz: Tensor, flow: Tensor, robot_flow: Tensor, goal: ResolvedGoal) -> Tensor:
    """(K,) mean over steps 1..T of the distance (m) from the goal points' predicted centroid
    to the nearest robot point: a shaping term that draws the robot to what must move (useful
    when the goal cost is flat until contact, as in pushing)."""
    c = (xyz[goal.index] + flow[:, :, goal.index]).mean(2)  # (K, T, 3)
    d = torch.linalg.vector_norm(robot_flow[:, 1:] - c[:, :, None], dim=-1)  # (K, T, M)
    return d.amin(-1).mean(-1)


def approach_cost(xyz: Tensor, flow: Tensor, robot_flow: Tensor, goal: ResolvedGoal,
                  near: float = 0.02) -> Tensor:
    """(K,) mean over steps 1..T of the distance (m) from the nearest robot point to the goal
    points' back: the point on the line through their predicted centroid, along the way they
    still have to go, level with the goal point farthest behind. A shaping term for pushing:
    touching that point and moving along that way pushes them to their targets. Each step
    counts in proportion to the way still to go, up to ``near`` (m) and beyond: nothing is
    owed once they are there."""
    pos = xyz[goal.index] + flow[:, :, goal.index]  # (K, T, G, 3)
    way = goal.to_go(pos).mean(2)  # (K, T, 3)
    length = torch.linalg.vector_norm(way, dim=-1, keepdim=True)
    u = way / length.clamp_min(1e-9)
    c = pos.mean(2)
    behind = ((pos - c[:, :, None]) * u[:, :, None]).sum(-1).amin(-1, keepdim=True)  # (K, T, 1), <= 0
    back = c + u * behind
    d = torch.linalg.vector_norm(robot_flow[:, 1:] - back[:, :, None], dim=-1).amin(-1)  # (K, T)
    return (d * (length[..., 0] / near).clamp(max=1.0)).mean(-1)


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


def total_cost(
    xyz: Tensor,
    flow: Tensor,
    robot_flow: Tensor,
    q: Tensor,
    goal: ResolvedGoal,
    lower: Tensor,
    upper: Tensor,
    step_bound: Tensor,
    config: PlannerConfig,
) -> tuple[Tensor, dict[str, Tensor]]:
    """(K,) total cost and the weighted (K,) terms by name (keys: :data:`COST_TERMS`)."""
    w = config.weights
    terms = {
        "goal": w.goal * goal_cost(xyz, flow, goal, config.goal_steps),
        "reach": w.reach * reach_cost(xyz, flow, robot_flow, goal) if w.reach > 0 else flow.new_zeros(flow.shape[0]),
        "approach": (w.approach * approach_cost(xyz, flow, robot_flow, goal) if w.approach > 0
                     else flow.new_zeros(flow.shape[0])),
        "still": w.still * still_cost(flow, goal) if w.still > 0 else flow.new_zeros(flow.shape[0]),
        "smoothness": w.smoothness * smoothness_cost(q, step_bound),
        "size": w.size * action_size_cost(q, step_bound),
        "joint_limit": w.joint_limit * joint_limit_cost(q, lower, upper, config.joint_limit_margin),
        "table": w.table * table_cost(robot_flow, config.table_z, config.table_clearance),
    }
    terms = {k: v.to(flow.dtype) for k, v in terms.items()}
    return sum(terms.values()), terms
