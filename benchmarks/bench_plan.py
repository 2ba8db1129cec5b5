"""Time per replan of MPPI against a world model, whole and split into its parts.

One replan is one ``MPPIPlanner.plan`` call with the ``closed_loop_progress`` preset (the
closed-loop evaluation's: tool-space noise, the tool speed cap, the push task's cost terms)
from the demo's start (the Panda's tool 3 cm behind the sample capture's red box, the goal
5 cm along +x), with R rollouts per replan (K = R / iterations samples per iteration). The
scene is the sample capture fused at 1.5 cm (N = 3,002); M = 500 robot points; T = 10.
Weights are random: speed does not depend on them (the factored model decodes only the
objects the robot comes near, which random weights do not change). The first row, the
shipped checkpoint's architecture (``tiny_contact``) at the preset's 64 rollouts, is the
named peer of the last column. A part breakdown (sampling with projection and speed cap,
kinematics, the model, the costs) is printed for one iteration of each row.

    .venv/bin/python benchmarks/bench_plan.py [--rollouts 64 256] [--models tiny_contact tiny_factored] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch

from capture import Workspace, frames_to_cloud, load_capture
from kinematics import load_robot
from planning import CostInputs, Goal, JointLimits, MPPIPlanner, PlannerConfig, Rollout
from planning.costs import total_cost
from pointwm.commands.demo import DEFAULT_GOAL
from pointwm.model import ModelConfig, WorldModel
from pointwm.paths import CONFIGS, SAMPLE_CAPTURE
from pointwm.tasks.push import COST_TERMS, push_start_joints

PRESET = "closed_loop_progress"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rollouts", type=int, nargs="+", default=[64, 256], help="rollouts per replan")
    ap.add_argument("--models", nargs="+", default=["tiny_contact", "tiny_factored"], help="configs/model/NAME.yaml")
    ap.add_argument("--voxel", type=float, default=0.015)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=2, help="replans timed per row (the minimum is reported)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    robot = load_robot("panda")
    cloud = frames_to_cloud(load_capture(SAMPLE_CAPTURE), Workspace(), voxel_size=args.voxel, normals=True)
    goal = Goal.parse(DEFAULT_GOAL).resolve(cloud.xyz.float(), 10)
    q0 = torch.from_numpy(push_start_joints(robot, robot.default_q.numpy(), cloud.xyz[goal.index].double().numpy(),
                                            (0.05, 0.0, 0.0))).float()
    base = PlannerConfig.from_yaml(PRESET)
    print(f"scene N = {len(cloud)}, robot M = {robot.num_points}, T = 10, torch threads = {torch.get_num_threads()}, "
          f"preset {PRESET} ({base.iterations} iterations per replan)")
    print("| model | rollouts per replan | replan (s) | vs tiny_contact at 64 | one iteration: sampling (s) | "
          "kinematics (s) | model (s) | costs (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    peer = None
    for name in args.models:
        torch.manual_seed(0)
        model = WorldModel(ModelConfig.from_yaml(CONFIGS / "model" / f"{name}.yaml")).eval()
        model.predict(cloud, robot.point_flow(q0.expand(1, 11, -1)))  # warm-up
        for rollouts in args.rollouts:
            cfg = base.replace(K=max(1, rollouts // base.iterations))
            planner = MPPIPlanner(cfg, cost_terms=COST_TERMS)
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                planner.plan(model, cloud, robot, q0, goal)
                times.append(time.perf_counter() - t0)
            replan = min(times)
            peer = replan if peer is None else peer
            parts = _iteration_parts(planner, model, robot, cloud, q0, goal)
            print(f"| {name} | {cfg.K * cfg.iterations} | {replan:.2f} | {replan / peer:.2f}x | "
                  + " | ".join(f"{p:.3f}" for p in parts) + " |", flush=True)


def _iteration_parts(planner: MPPIPlanner, model, robot, cloud, q0, goal) -> list[float]:
    """Seconds of one iteration's parts: sampling (+ projection and the speed cap),
    kinematics (robot point flows), the model, the costs."""
    cfg = planner.config
    lo, hi = robot.lower.float(), robot.upper.float()
    vb = robot.velocity_limits.float() * cfg.dt
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    mean = q0.expand(cfg.T, -1).clone()
    samples = planner._sample(mean, q0, lo, hi, vb, cfg.K, cfg.noise_std, gen, planner._tool_map(robot, q0, mean))
    samples = planner._tool_speed(robot, q0, samples, vb)
    t1 = time.perf_counter()
    q_traj = torch.cat([q0.expand(cfg.K, 1, -1), samples], 1)
    rf = robot.point_flow(q_traj, validate=False)
    t2 = time.perf_counter()
    with torch.no_grad():
        flow = model.predict(cloud, rf)
    t3 = time.perf_counter()
    total_cost(CostInputs(cloud.xyz.float(), flow, Rollout(q_traj, rf), goal, JointLimits(lo, hi, vb), cfg), COST_TERMS)
    t4 = time.perf_counter()
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3]


if __name__ == "__main__":
    main()
