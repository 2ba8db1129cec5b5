"""Time per replan of MPPI with the tiny world model, split into kinematics, model and cost.

One MPPI iteration (sampling as the ``closed_loop`` preset does, with tool-space noise, +
projection + the tool speed cap, ``RobotModel.point_flow`` for K candidates,
``WorldModel.predict`` for K candidates, cost terms) for K = 64 and 256, T = 10, the Panda
(M = 500) and the sample capture fused at 1.5 cm (or ``--voxel``). A replan runs
``iterations`` of these; the table reports one iteration and the total for the preset's
iteration count. Weights are random (speed does not depend on them). Models: ``tiny`` and
``tiny_contact`` (tiny + contact features, the shipped checkpoint's model) side by side.

    .venv/bin/python benchmarks/bench_plan.py [--K 64 256] [--models tiny tiny_contact] [--voxel 0.015] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch

from capture import Workspace, frames_to_cloud, load_capture
from kinematics import load_robot
from planning import CostInputs, Goal, JointLimits, PlannerConfig, Rollout
from planning.costs import total_cost
from planning.mppi import MPPIPlanner
from pointwm.model import ModelConfig, WorldModel
from pointwm.paths import CONFIGS, SAMPLE_CAPTURE
from pointwm.tasks.push import COST_TERMS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--K", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--models", nargs="+", default=["tiny", "tiny_contact"], help="configs/model/NAME.yaml")
    ap.add_argument("--voxel", type=float, default=0.015)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--iterations", type=int, default=4, help="iterations per replan to extrapolate to")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    robot = load_robot("panda")
    cloud = frames_to_cloud(load_capture(SAMPLE_CAPTURE), Workspace(),
                            voxel_size=args.voxel, normals=True)
    goal = Goal.parse("box:0.35,0.05,0.01,0.5,0.2,0.15+0.1,0,0").resolve(cloud.xyz.float(), 10)
    print(f"scene N = {len(cloud)}, robot M = {robot.num_points}, T = 10, torch threads = {torch.get_num_threads()}")
    print("| model | K | sample+project (s) | kinematics (s) | model (s) | cost (s) | one iteration (s) | "
          f"replan, {args.iterations} iterations (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        model = WorldModel(ModelConfig.from_yaml(CONFIGS / f"model/{name}.yaml"))
        model.predict(cloud, robot.point_flow(robot.default_q.float().expand(1, 11, -1)))  # warm-up
        for K in args.K:
            _iteration(name, model, K, robot, cloud, goal, args.iterations)


def _iteration(name: str, model: WorldModel, K: int, robot, cloud, goal, iterations: int) -> None:
    """Time one MPPI iteration of K candidates and print its table row."""
    cfg = PlannerConfig.from_yaml("closed_loop").replace(K=K, T=10)  # its sampler (tool-space noise)
    planner = MPPIPlanner(cfg, cost_terms=COST_TERMS)
    q0 = robot.default_q.float()
    lo, hi = robot.lower.float(), robot.upper.float()
    vb = robot.velocity_limits.float() * cfg.dt
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    mean = q0.expand(10, -1).clone()
    samples = planner._sample(mean, q0, lo, hi, vb, K, cfg.noise_std, gen, planner._tool_map(robot, q0, mean))
    samples = planner._tool_speed(robot, q0, samples, vb)  # the preset's tool speed cap (FK per step)
    t1 = time.perf_counter()
    q_traj = torch.cat([q0.expand(K, 1, -1), samples], 1)
    rf = robot.point_flow(q_traj, validate=False)
    t2 = time.perf_counter()
    with torch.no_grad():
        flow = model.predict(cloud, rf)
    t3 = time.perf_counter()
    total_cost(CostInputs(cloud.xyz.float(), flow, Rollout(q_traj, rf), goal, JointLimits(lo, hi, vb), cfg), COST_TERMS)
    t4 = time.perf_counter()
    it = t4 - t0
    print(f"| {name} | {K} | {t1 - t0:.3f} | {t2 - t1:.3f} | {t3 - t2:.2f} | {t4 - t3:.3f} | {it:.2f} | {iterations * it:.1f} |")


if __name__ == "__main__":
    main()
