"""Closed-loop push tasks with two planner variants tried on stage 9 (README, "Closed loop in
simulation"): ``push-line``, not adopted and not an option of ``eval-plan``; ``goal-mean``,
since made the preset ``closed_loop_progress`` (the same outcomes, to the last digit).

    .venv/bin/python experiments/planner_variants.py --variant push-line --seeds 0 19 --out runs/push_line.jsonl
    .venv/bin/python experiments/planner_variants.py --variant goal-mean --seeds 0 39 --out runs/goal_mean.jsonl

``push-line``: the first plan's MPPI mean is a straight push along the line through the
object's visible centroid towards the target (the tool first moved onto that line,
``--speed`` m per step), where MPPI otherwise starts from holding still; only where the
tool starts behind the centroid. ``goal-mean``: the goal cost is the goal points' distance
averaged over all T predicted steps instead of taken at the last (early progress counts):
``PlannerConfig.goal_steps: all``, since made the preset ``closed_loop_progress``.
Everything else is ``eval-plan``'s (``closed_loop`` preset, the default task and loop, or
with ``--reposition`` its repositioning move; one process); one JSON line per task is
appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from kinematics import load_robot
from kinematics.ik import arm_and_grippers, dls_ik, tool_link_index
from planning import MPPIPlanner, PlannerConfig
from pointwm.eval.closed_loop import LoopConfig, run_task
from pointwm.eval.plan_benchmark import make_planner
from pointwm.model.ensemble import load_models
from pointwm.tasks.push import COST_TERMS, PushConfig, PushEnv, make_task
from pointwm.tasks.reposition import RepositionMove


def push_line_mean(robot, scene, q0, goal, T: int, speed: float):
    """(T, J) joint targets of a straight push along the line through the goal points'
    centroid along the goal displacement, or None where the tool is not behind it."""
    c = scene.xyz[goal.mask].double().mean(0).numpy()
    u = np.asarray(goal.displacement, dtype=np.float64)
    u[2] = 0.0
    u /= max(float(np.linalg.norm(u)), 1e-9)
    P = robot.link_poses(q0[None].double(), validate=False)[0, tool_link_index(robot)].numpy()
    p0, R = P[:3, 3], P[:3, :3]
    rel = p0 - c
    rel[2] = 0.0
    along = float(rel @ u)
    if along > -0.01:
        return None
    lateral = rel - along * u
    arm, _ = arm_and_grippers(robot)
    q, out = q0.double().numpy().copy(), []
    for t in range(1, T + 1):
        q, _ = dls_ik(robot, q, p0 - lateral * min(1.0, t / 3) + u * speed * t, R, arm, iters=20)
        out.append(q.copy())
    return torch.tensor(np.stack(out), dtype=torch.float32)


class PushLinePlanner(MPPIPlanner):
    """MPPI whose first plan starts from :func:`push_line_mean` where the tool is behind."""

    speed = 0.015

    def plan(self, dyn, scene, robot, q0, goal, warm_start=None, **kw):
        if warm_start is None:
            warm_start = push_line_mean(robot, scene, q0, goal, self.config.T, self.speed)
        return super().plan(dyn, scene, robot, q0, goal, warm_start=warm_start, **kw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=("push-line", "goal-mean"), required=True)
    ap.add_argument("--checkpoint", type=Path, default=Path("assets/checkpoints/tiny_sim.safetensors"))
    ap.add_argument("--seeds", type=int, nargs=2, default=(0, 19), metavar=("FIRST", "LAST"))
    ap.add_argument("--speed", type=float, default=0.015, help="push-line: m per step (default: %(default)s)")
    ap.add_argument("--reposition", action="store_true", help="with eval-plan's --reposition move")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    robot = load_robot("panda")
    pcfg = PlannerConfig.from_yaml("closed_loop")
    if args.variant == "goal-mean":  # the preset closed_loop_progress, as eval-plan --config runs it
        pcfg = pcfg.replace(goal_steps="all")
    PushLinePlanner.speed = args.speed
    tcfg, loop = PushConfig(), LoopConfig()
    move = RepositionMove() if args.reposition else None
    model = load_models([args.checkpoint])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in range(args.seeds[0], args.seeds[1] + 1):
        t0 = time.perf_counter()
        env = PushEnv(make_task(seed, tcfg, robot, pcfg.T, pcfg.dt), robot, tcfg, pcfg.T, pcfg.dt)
        planner = (PushLinePlanner(pcfg, cost_terms=COST_TERMS) if args.variant == "push-line"
                   else make_planner("mppi_model", pcfg))
        r = run_task(env, planner, lambda env, seg: model, loop, move, "mppi_model")
        with open(args.out, "a") as f:
            f.write(json.dumps({"seed": seed, "variant": args.variant, "success": r.success,
                                "final_error_m": r.final_error_m, "replans": r.replans,
                                "repositions": r.repositions}) + "\n")
        print(f"seed {seed}: {'solved' if r.success else 'failed'}, {100 * r.final_error_m:.1f} cm, "
              f"{r.replans} replans, {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
