"""Robot motions for simulated clips: pushes (approach an object, push it), probes (start
beside an object, then a noisy tool path, the kind of motion a sampling planner proposes),
retreats and random reaches. Tool paths are solved by ``kinematics.ik`` (position plus
"tool points down" orientation); every motion respects the velocity limits and keeps the
robot above the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kinematics.ik import arm_and_grippers, dls_ik, down_rotation, reach_from_above
from pointwm.sim.scene import ObjectSpec, clear_of_table

__all__ = ["Motion", "plan_probe", "plan_push", "plan_reach", "plan_retreat"]


@dataclass(frozen=True)
class Motion:
    """A planned clip motion. q: (T+1, J) float64 joint positions; kind: "push" / "probe" / "retreat" / "reach";
    target: index of the pushed object (or -1)."""

    q: np.ndarray
    kind: str
    target: int = -1


def plan_push(robot, rng: np.random.Generator, obj: ObjectSpec, index: int, num_steps: int,
              step_dt: float, gap: tuple[float, float] = (0.02, 0.06),
              length: tuple[float, float] = (0.08, 0.2), offset: float = 0.0) -> Motion | None:
    """Approach pose just behind ``obj``, then a straight push through it (None if unreachable).

    The tool starts ``gap`` (default 2-6 cm) behind the object's bounding circle opposite a
    random push direction, fingers nearly closed, at 2-4 cm height, and moves ``length``
    (default 8-20 cm) in 1 clip. A gap near 0 starts the clip with the tool at the object,
    as a closed-loop planner does after its first replan. ``offset`` > 0 (m) moves the push
    line sideways off the object's centre by a uniform draw in [-offset, offset]: off-centre
    pushes turn and deflect the object, or graze and miss it (0, the default: through the
    centre, and no draw, so archives made before it are unchanged).
    """
    ang = float(rng.uniform(-math.pi, math.pi))
    d = np.array([math.cos(ang), math.sin(ang), 0.0])
    gap_m = float(rng.uniform(*gap))
    height = float(np.clip(obj.half_height, 0.02, 0.04))
    start = np.array([*obj.xy, height]) - d * (obj.radius + gap_m)
    length_m = float(rng.uniform(*length))
    if offset > 0:
        start = start + np.array([-d[1], d[0], 0.0]) * float(rng.uniform(-offset, offset))
    R = down_rotation(ang + math.pi / 2)  # fingers side by side across the push direction
    traj = _straight_tool_path(robot, rng, start, d * length_m, R, num_steps, step_dt)
    return None if traj is None else Motion(traj, "push", index)


def _straight_tool_path(robot, rng: np.random.Generator, start: np.ndarray, way: np.ndarray, R: np.ndarray,
                        num_steps: int, step_dt: float) -> np.ndarray | None:
    """(T+1, J) joint path moving the tool (orientation ``R``) from ``start`` along ``way`` in
    equal steps, fingers nearly closed (one draw from ``rng``); None if IK, the velocity
    limits or the table forbid it."""
    arm, grip = arm_and_grippers(robot)
    q0 = robot.default_q.numpy().copy()
    q0[grip] = robot.lower.numpy()[grip] + float(rng.uniform(0.0, 0.15)) * (robot.upper - robot.lower).numpy()[grip]
    q, err = reach_from_above(robot, q0, start, R, arm)
    if err > 0.01:
        return None
    qs = [q]
    for t in range(1, num_steps + 1):
        q, err = dls_ik(robot, q, start + way * t / num_steps, R, arm, iters=15)
        if err > 0.01:
            return None
        qs.append(q)
    traj = np.stack(qs)
    if not _within_velocity(robot, traj, step_dt) or not clear_of_table(robot, traj):
        return None
    return traj


def plan_probe(robot, rng: np.random.Generator, obj: ObjectSpec, index: int, num_steps: int,
               step_dt: float) -> Motion | None:
    """Start beside ``obj`` as a push does, then a noisy tool path (None if unreachable).

    The tool starts 0-6 cm from the object's bounding circle on a random side, at 2-5 cm
    height, and moves by a drift (0-2 cm per step, heading within 120 degrees of the
    object) plus AR(1) noise (1 cm per step in x/y, 0.5 cm in z, coefficient 0.8) and a
    slow yaw drift: straight, curved, grazing and missing paths, the motions a sampling
    planner (MPPI) proposes, so a model trained on them learns what they do to the scene.
    """
    arm, grip = arm_and_grippers(robot)
    ang = float(rng.uniform(-math.pi, math.pi))
    d = np.array([math.cos(ang), math.sin(ang), 0.0])
    gap = float(rng.uniform(0.0, 0.06))
    height = float(np.clip(obj.half_height, 0.02, 0.04)) + float(rng.uniform(0.0, 0.01))
    start = np.array([*obj.xy, height]) - d * (obj.radius + gap)
    yaw = ang + math.pi / 2 + float(rng.uniform(-0.4, 0.4))
    q0 = robot.default_q.numpy().copy()
    q0[grip] = robot.lower.numpy()[grip] + float(rng.uniform(0.0, 0.15)) * (robot.upper - robot.lower).numpy()[grip]
    q, err = reach_from_above(robot, q0, start, down_rotation(yaw), arm)
    if err > 0.01:
        return None
    heading = ang + float(rng.uniform(-2.1, 2.1))
    drift = float(rng.uniform(0.0, 0.02)) * np.array([math.cos(heading), math.sin(heading), 0.0])
    beta, c = 0.8, math.sqrt(1 - 0.8**2)
    e = rng.standard_normal(3)
    p, qs = start.copy(), [q]
    for _ in range(num_steps):
        p = p + drift + e * np.array([0.01, 0.01, 0.005])
        p[2] = max(p[2], 0.015)
        yaw += float(rng.normal(0.0, 0.05))
        q, err = dls_ik(robot, q, p, down_rotation(yaw), arm, iters=15)
        if err > 0.01:
            return None
        qs.append(q)
        e = beta * e + c * rng.standard_normal(3)
    traj = np.stack(qs)
    if not _within_velocity(robot, traj, step_dt) or not clear_of_table(robot, traj):
        return None
    return Motion(traj, "probe", index)


def plan_retreat(robot, rng: np.random.Generator, obj: ObjectSpec, index: int, num_steps: int,
                 step_dt: float, length: tuple[float, float] = (0.04, 0.15)) -> Motion | None:
    """Start at ``obj`` as a push from contact does, then move away from it (None if unreachable).

    The tool starts 0-1 cm from the object's bounding circle behind a random push direction,
    at 2-4 cm height (where a push from contact starts, and where a closed-loop planner's tool
    is after a push), and moves ``length`` (default 4-15 cm) in a straight line back, aside or
    anywhere in between (within 100 degrees of straight back). A pusher cannot pull: the
    object stays where it is, or turns a little where the tool grazes it on the way out. A
    model trained only on motions into objects has never seen that, and predicts the object
    following the tool; a planner then finds those paths cheap.
    """
    ang = float(rng.uniform(-math.pi, math.pi))
    d = np.array([math.cos(ang), math.sin(ang), 0.0])
    height = float(np.clip(obj.half_height, 0.02, 0.04))
    start = np.array([*obj.xy, height]) - d * (obj.radius + float(rng.uniform(0.0, 0.01)))
    away = ang + math.pi + float(rng.uniform(-1.0, 1.0)) * math.radians(100.0)
    u = np.array([math.cos(away), math.sin(away), 0.0])
    length_m = float(rng.uniform(*length))
    traj = _straight_tool_path(robot, rng, start, u * length_m, down_rotation(ang + math.pi / 2), num_steps, step_dt)
    return None if traj is None else Motion(traj, "retreat", index)


def plan_reach(robot, rng: np.random.Generator, num_steps: int, step_dt: float) -> Motion | None:
    """A random joint-space reach from a perturbed home pose; may open/close the gripper."""
    arm, grip = arm_and_grippers(robot)
    lo, hi = robot.lower.numpy(), robot.upper.numpy()
    q0 = robot.default_q.numpy().copy()
    q0[arm] += rng.uniform(-0.3, 0.3, len(arm))
    q1 = q0.copy()
    q1[arm] += rng.uniform(-0.5, 0.5, len(arm))
    if len(grip):
        q0[grip] = lo[grip] + rng.uniform(0, 1) * (hi - lo)[grip]
        q1[grip] = lo[grip] + rng.uniform(0, 1) * (hi - lo)[grip]
    q0, q1 = np.clip(q0, lo, hi), np.clip(q1, lo, hi)
    s = np.linspace(0.0, 1.0, num_steps + 1)
    s = s * s * (3 - 2 * s)  # smooth start and stop
    traj = q0 + s[:, None] * (q1 - q0)
    if not _within_velocity(robot, traj, step_dt) or not clear_of_table(robot, traj):
        return None
    return Motion(traj, "reach", -1)


def _within_velocity(robot, traj: np.ndarray, step_dt: float) -> bool:
    v = np.abs(np.diff(traj, axis=0)) / step_dt
    return bool((v <= robot.velocity_limits.numpy()[None] * 1.0 + 1e-9).all())
