"""``pointwm plan``: one capture + robot + joints + goal → an MPPI plan (JSON), the predicted
flow (.npz) and a picture (.png)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from capture.process import Workspace
from kinematics import load_robot
from planning import Goal, MPPIPlanner, PlannerConfig
from pointwm.commands.common import (
    add_cloud_options,
    checkpoint_label,
    cloud_from_capture,
    warn_if_robot_differs,
    write_json,
)
from pointwm.errors import CLIError
from pointwm.model.ensemble import load_models
from pointwm.tasks import COST_TERMS as TASK_COST_TERMS
from pointwm.viz import save_prediction
from pointwm.viz.static import new_figure

log = logging.getLogger("pointwm")

GOAL_HELP = (
    "goal as SELECTION TARGET[@STEP]: SELECTION is 'box:x0,y0,z0,x1,y1,z1' (world frame, m) or "
    "'idx:i,j,...'; TARGET is '+dx,dy,dz' (move by), '>x,y,z' (centroid to) or "
    "'>box:x0,y0,z0,x1,y1,z1' (into a box); '@STEP' = reached by step STEP (default: last). "
    "Example: 'box:0.45,-0.05,0,0.55,0.05,0.1+0.1,0,0'"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="plan joint actions that move chosen scene points to a goal (MPPI)",
        description="Fuse a capture into a point cloud, then search (MPPI, Williams et al. 2017) for the "
        "joint-position sequence whose predicted scene flow reaches the goal. Writes plan.json, "
        "flow.npz and plan.png to --out.",
    )
    p.add_argument("--capture", type=Path, required=True, help="capture directory")
    p.add_argument("--robot", default="panda", help="robot name, robot YAML or URDF (default: %(default)s)")
    p.add_argument("--joints", default=None,
                   help="start joint values (rad, m): J comma-separated numbers in the robot's joint order, "
                        "or name=value pairs over the default pose (default: the robot's default pose)")
    p.add_argument("--goal", required=True, help=GOAL_HELP)
    p.add_argument("--checkpoint", type=Path, nargs="+", required=True, metavar="CKPT",
                   help="world-model checkpoint (.safetensors); several: plan against their ensemble (mean prediction)")
    p.add_argument("--config", default="default", help="planner preset name or YAML (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: CAPTURE/plan)")
    p.add_argument("--budget", type=float, default=None, help="time budget in seconds (best plan so far)")
    p.add_argument("--samples", "-K", type=int, default=None, help="override K (samples per iteration)")
    p.add_argument("--iterations", type=int, default=None, help="override the number of MPPI iterations")
    p.add_argument("--horizon", "-T", type=int, default=None, help="override T (steps)")
    p.add_argument("--seed", type=int, default=None, help="override the sampling seed")
    add_cloud_options(p)
    p.set_defaults(func=run)


def parse_joints(text: str | None, robot):
    """(J,) joint vector from 'v1,...,vJ' or 'name=value,...' (over the default pose)."""
    if text is None:
        return robot.default_q.clone()
    parts = [x.strip() for x in text.split(",") if x.strip()]
    if parts and all("=" in x for x in parts):
        values = {}
        for x in parts:
            k, v = x.split("=", 1)
            if k not in robot.joint_names:
                raise CLIError(f"--joints: unknown joint {k!r} (robot {robot.name!r} has {list(robot.joint_names)})")
            values[k] = float(v)
        return robot.q_from_dict(values)
    try:
        vals = [float(x) for x in parts]
    except ValueError:
        raise CLIError(f"--joints: expected comma-separated numbers or name=value pairs, got {text!r}") from None
    if len(vals) != robot.num_joints:
        raise CLIError(
            f"--joints: expected {robot.num_joints} values for {list(robot.joint_names)}, got {len(vals)}"
        )
    return torch.tensor(vals, dtype=torch.float64)


def render_plan_png(path: Path, xyz, color, goal_mask, final, targets, robot_final=None, title: str = "") -> Path:
    """Top and side views: scene (grey/colour), goal points (blue), their predicted final
    positions (red), targets (green x), robot points at the last step (light grey)."""
    fig = new_figure(figsize=(11, 5))
    axes = fig.subplots(1, 2)
    c = color if color is not None else np.full((len(xyz), 3), 0.6)
    for ax, (i, j, names) in zip(axes, ((0, 1, "xy (top)"), (0, 2, "xz (side)")), strict=True):
        if robot_final is not None:
            ax.scatter(robot_final[:, i], robot_final[:, j], s=2, c="0.8", label="robot (last step)")
        ax.scatter(xyz[~goal_mask, i], xyz[~goal_mask, j], s=3, c=c[~goal_mask], alpha=0.5)
        ax.scatter(xyz[goal_mask, i], xyz[goal_mask, j], s=6, c="tab:blue", label="goal points (t0)")
        ax.scatter(final[:, i], final[:, j], s=6, c="tab:red", label="predicted (goal step)")
        if targets is not None:
            ax.scatter(targets[:, i], targets[:, j], s=10, c="tab:green", marker="x", label="targets")
        ax.set_xlabel("xyz"[i] + " (m)")
        ax.set_ylabel("xyz"[j] + " (m)")
        ax.set_title(names)
        ax.set_aspect("equal", adjustable="datalim")
    axes[0].legend(loc="best", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def plan_and_write(model, cloud, robot, q0, goal, cfg, out: Path, workspace=None, meta: dict | None = None):
    """Plan with MPPI and write ``out/plan.json``, ``out/flow.npz`` (a prediction bundle that
    ``pointwm viz`` opens, with the actions as ``extra_actions``) and ``out/plan.png``.

    model: WorldModel; cloud: PointCloud (N points, world frame, m); robot: RobotModel;
    q0: (J,) start joints; goal: planning.Goal; cfg: PlannerConfig (its weights may name the
    tasks' shaping terms, ``pointwm.tasks.COST_TERMS``); workspace: (lo, hi) m.
    Returns ``(plan, resolved_goal, {"plan": ..., "prediction": ..., "picture": ...})``.
    """
    resolved = goal.resolve(cloud.xyz.float(), cfg.T, workspace)
    log.info("goal: %s (%d points); planning K=%d T=%d iterations=%d", goal.describe(), resolved.index.numel(),
             cfg.K, cfg.T, cfg.iterations)
    plan = MPPIPlanner(cfg, cost_terms=TASK_COST_TERMS).plan(model, cloud, robot, q0, resolved, progress=True)
    out.mkdir(parents=True, exist_ok=True)
    xyz = cloud.xyz.float().numpy()
    flow = plan.predicted_flow.numpy()
    gm = resolved.mask.numpy()
    final = xyz[gm] + flow[resolved.step][gm]
    targets = resolved.targets.numpy() if resolved.targets is not None else None
    meta = {"robot": robot.name, "goal": goal.describe(), **(meta or {})}
    bundle = save_prediction(out / "flow.npz", cloud, plan.robot_flow, plan.predicted_flow,
                             goal_idx=resolved.index, goal_targets=targets, meta=meta,
                             extra={"actions": plan.actions.numpy()})
    data = {**meta, "joint_names": list(robot.joint_names), "goal_points": int(resolved.index.numel()),
            "prediction": bundle.name, "config": cfg.to_dict(), **plan.to_dict()}
    plan_json = write_json(out / "plan.json", data)
    color = cloud.color.numpy() if cloud.color is not None else None
    picture = render_plan_png(out / "plan.png", xyz, color, gm, final, targets, plan.robot_flow[-1].numpy(),
                              title=f"{goal.describe()}  cost {plan.cost:.4f}")
    print(f"cost {plan.cost:.5f} ({', '.join(f'{k} {v:.4g}' for k, v in plan.cost_terms.items())})")
    print(f"{plan.samples} rollouts, {len(plan.cost_history)} iteration(s) in {plan.elapsed_s:.2f} s"
          + (" (stopped by the time budget)" if plan.stopped_early else ""))
    print(f"plan:    {plan_json}\nflow:    {bundle}\npicture: {picture}")
    return plan, resolved, {"plan": plan_json, "prediction": bundle, "picture": picture}


def run(args: argparse.Namespace) -> int:

    cfg = PlannerConfig.from_yaml(args.config)
    over = {k: v for k, v in (("K", args.samples), ("iterations", args.iterations), ("T", args.horizon),
                               ("seed", args.seed), ("time_budget_s", args.budget)) if v is not None}
    cfg = cfg.replace(**over)
    goal = Goal.parse(args.goal)
    robot = load_robot(args.robot)
    q0 = parse_joints(args.joints, robot)
    for path in args.checkpoint:
        if not path.is_file():
            raise FileNotFoundError(f"--checkpoint {path}: no such file")
    model = load_models(args.checkpoint)
    warn_if_robot_differs(model, robot)
    model_T = int(model.config.num_steps)
    if args.horizon is not None and args.horizon != model_T:
        raise CLIError(f"--horizon {args.horizon}: the checkpoint predicts T = {model_T} steps; plan with T = {model_T}")
    cfg = cfg.replace(T=model_T)
    _, cloud = cloud_from_capture(args.capture, args)
    ws = Workspace(tuple(args.workspace[:3]), tuple(args.workspace[3:]))
    out = args.out or args.capture / "plan"
    plan_and_write(model, cloud, robot, q0, goal, cfg, out, (ws.lo, ws.hi),
                   meta={"goal": args.goal, "checkpoint": checkpoint_label(args.checkpoint)})
    return 0
