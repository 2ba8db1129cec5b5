"""``pointwm demo``: the whole system on the embedded default, the README's main job.

1. capture: fuse the cameras of the sample capture in ``assets/`` into one cloud in the
   robot base frame (``scene.ply``, ``scene.png``);
2. plan: with the default robot (``panda``, its tool placed 3 cm behind the goal's object,
   as a push starts; ``--start default`` keeps the robot's default joints), the shipped
   world-model checkpoint and a default goal (push the red box 5 cm along +x), MPPI searches
   the joint actions whose predicted scene flow reaches the goal (``plan/plan.json``,
   ``plan/plan.png``);
3. outcome: the predicted rollout as pictures (``flow.png``, ``rollout.gif``), a prediction
   bundle the browser viewer opens (``plan/flow.npz``) and ``summary.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from capture.process import Workspace
from kinematics import load_robot
from planning import Goal, PlannerConfig
from pointwm.commands.common import (
    add_cloud_options,
    cloud_from_capture,
    warn_if_robot_differs,
    write_json,
)
from pointwm.commands.plan import plan_and_write
from pointwm.errors import CLIError
from pointwm.model import WorldModel
from pointwm.paths import ASSETS, SAMPLE_CAPTURE
from pointwm.ply import write_ply
from pointwm.tasks.push import push_start_joints
from pointwm.viz import load_prediction, render_cloud_png, render_flow_png, render_rollout_gif

DEFAULT_CHECKPOINT = ASSETS / "checkpoints" / "tiny_sim.safetensors"
DEFAULT_GOAL = "box:0.35,0.05,0.01,0.5,0.2,0.15+0.05,0,0"  # the sample capture's red box, +5 cm in x


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole system on the embedded default (sample capture, robot, checkpoint, goal)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--capture", type=Path, default=SAMPLE_CAPTURE,
                   help="capture directory to run on (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("runs/demo"),
                   help="output directory (default: %(default)s)")
    p.add_argument("--robot", default="panda", help="robot name or YAML (default: %(default)s)")
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                   help="world-model checkpoint (default: %(default)s)")
    p.add_argument("--goal", default=DEFAULT_GOAL, help="planning goal, as for `pointwm plan` (default: %(default)s)")
    p.add_argument("--start", choices=("behind", "default"), default="behind",
                   help="where the robot starts: 'behind', the tool 3 cm behind the goal's points on the "
                        "line along which they must go, at push height (inverse kinematics from the default "
                        "joints); 'default', the robot's default joints (default: %(default)s)")
    p.add_argument("--planner", default="closed_loop_progress", help="planner preset (default: %(default)s)")
    p.add_argument("--budget", type=float, default=120.0, help="planning time budget, seconds (default: %(default)s)")
    p.add_argument("--capture-only", action="store_true", help="stop after the capture stage")
    add_cloud_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    out: Path = args.out
    frames, cloud = cloud_from_capture(args.capture, args)
    ply = write_ply(out / "scene.ply", cloud)
    png = render_cloud_png(cloud, out / "scene.png", title=f"{args.capture.name}: {len(cloud)} points")
    xyz = cloud.xyz
    summary = {
        "capture": str(args.capture),
        "cameras": [f.name for f in frames],
        "num_points": len(cloud),
        "voxel_size_m": args.voxel,
        "workspace_m": args.workspace,
        "bounds_m": {"min": xyz.min(0).values.tolist(), "max": xyz.max(0).values.tolist()},
        "outputs": {"cloud": str(ply), "picture": str(png)},
    }
    print(f"pointwm demo: {len(frames)} camera(s) -> {len(cloud)} points\n  cloud:   {ply}\n  picture: {png}")
    if not args.capture_only:
        summary.update(_plan_stage(args, cloud, out))
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    summary_path = write_json(out / "summary.json", summary)
    print(f"  summary: {summary_path}  ({summary['seconds']} s in all)")
    if not args.capture_only:
        print(f"open the viewer: .venv/bin/pointwm viz {summary['outputs']['prediction']}")
    return 0


def _plan_stage(args: argparse.Namespace, cloud, out: Path) -> dict:
    """Plan towards the goal with the shipped model; write pictures of the predicted outcome."""
    if not args.checkpoint.is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such file")
    model = WorldModel.load(args.checkpoint)
    robot = load_robot(args.robot)
    warn_if_robot_differs(model, robot)
    cfg = PlannerConfig.from_yaml(args.planner).replace(T=int(model.config.num_steps), time_budget_s=args.budget)
    ws = Workspace(tuple(args.workspace[:3]), tuple(args.workspace[3:]))
    goal = Goal.parse(args.goal)
    q0 = robot.default_q
    if args.start == "behind":
        q0 = _behind(robot, cloud, goal.resolve(cloud.xyz.float(), cfg.T, (ws.lo, ws.hi)))
    plan, resolved, paths = plan_and_write(
        model, cloud, robot, q0, goal, cfg, out / "plan", (ws.lo, ws.hi),
        meta={"goal_text": args.goal, "checkpoint": str(args.checkpoint), "start": args.start},
    )
    scene = load_prediction(paths["prediction"])
    flow_png = render_flow_png(scene, out / "flow.png", which="pred")
    gif = render_rollout_gif(scene, out / "rollout.gif", which="pred")
    final = cloud.xyz[resolved.index] + plan.predicted_flow[resolved.step][resolved.index]
    moved = float(plan.predicted_flow[resolved.step][resolved.index].norm(dim=-1).mean())
    print(f"  arrows:  {flow_png}\n  rollout: {gif}\n"
          f"  predicted: the goal's {resolved.index.numel()} points move {moved * 100:.1f} cm on average, ending "
          f"{float(resolved.distance(final).mean()) * 100:.1f} cm from their targets")
    return {
        "robot": robot.name,
        "start": {"mode": args.start, "joints": [round(float(v), 6) for v in q0]},
        "checkpoint": str(args.checkpoint),
        "goal": args.goal,
        "goal_points": int(resolved.index.numel()),
        "plan": {"cost": plan.cost, "cost_terms": plan.cost_terms, "rollouts": plan.samples,
                 "seconds": round(plan.elapsed_s, 3)},
        "predicted": {"goal_points_mean_displacement_m": moved,
                      "goal_points_mean_distance_to_target_m": float(resolved.distance(final).mean())},
        "outputs_plan": {k: str(v) for k, v in paths.items()},
        "outputs": {"flow": str(flow_png), "rollout": str(gif), "prediction": str(paths["prediction"])},
    }


def _behind(robot, cloud, resolved):
    """(J,) start joints: the tool behind the goal's points, for a push along their way to go."""
    pts = cloud.xyz[resolved.index].double()
    way = resolved.to_go(pts).mean(0)  # (3,) m
    try:
        q = push_start_joints(robot, robot.default_q.numpy(), pts.numpy(), way.numpy())
    except ValueError as e:
        raise CLIError(f"--start behind: {e}; pass --start default to plan from the default joints") from None
    return torch.from_numpy(q).to(robot.default_q.dtype)
