"""``pointwm robot``: a robot's joints and limits, and a picture of its surface points."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import numpy as np
import torch

from kinematics import load_robot
from pointwm.errors import CLIError
from pointwm.viz.static import new_figure

log = logging.getLogger("pointwm")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "robot",
        help="print a robot's joints and limits and save a picture of its surface points",
        description="Load a robot by name (configs/robots/NAME.yaml), robot YAML or URDF; print "
        "its action joints with limits and link names; optionally save a picture of its "
        "surface points at a joint configuration.",
    )
    p.add_argument("robot", help="robot name (e.g. panda, bimanual_panda), a robot .yaml or a .urdf")
    p.add_argument(
        "--joints", nargs="+", default=None, metavar="VALUE",
        help="joint configuration: J numbers in action order, or NAME=VALUE pairs over the "
        "default configuration (rad, m)",
    )
    p.add_argument("--png", type=Path, default=None, help="save a picture of the surface points here")
    p.add_argument("--num-points", type=int, default=None, help="surface points M (default: the YAML's)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default: the YAML's)")
    p.set_defaults(func=run)


def parse_joints(robot, values: list[str] | None):
    """(J,) float64 tensor from the --joints words (all numbers, or NAME=VALUE pairs)."""
    if not values:
        return robot.default_q.clone()
    if all("=" in v for v in values):
        pairs = {}
        for v in values:
            name, _, num = v.partition("=")
            try:
                pairs[name] = float(num)
            except ValueError:
                raise CLIError(f"--joints: {v!r}: {num!r} is not a number") from None
        return robot.q_from_dict(pairs)
    if any("=" in v for v in values):
        raise CLIError("--joints: give either J numbers or NAME=VALUE pairs, not a mix")
    try:
        q = torch.tensor([float(v) for v in values], dtype=torch.float64)
    except ValueError:
        raise CLIError(f"--joints: expected numbers, got {values}") from None
    return robot.check_q(q, "--joints")


def describe(robot, q) -> str:
    """A text table of the action joints (limits, velocity, value at q) and the links."""
    lines = [repr(robot), "", f"{'#':>3}  {'joint':<28} {'lower':>9} {'upper':>9} {'vel':>8} {'q':>9}"]
    for i, name in enumerate(robot.joint_names):
        vel = float(robot.velocity_limits[i])
        lines.append(
            f"{i:>3}  {name:<28} {float(robot.lower[i]):>9.4f} {float(robot.upper[i]):>9.4f} "
            f"{'inf' if math.isinf(vel) else f'{vel:.3f}':>8} {float(q[i]):>9.4f}"
        )
    if robot.gripper_joint_names:
        lines.append(f"grippers: {', '.join(robot.gripper_joint_names)}")

    counts = torch.bincount(robot.point_link, minlength=robot.num_links).tolist()
    lines.append("")
    lines.append(f"links ({robot.num_links}; surface points per link):")
    lines.append("  " + ", ".join(f"{n} ({c})" for n, c in zip(robot.link_names, counts, strict=True)))
    return "\n".join(lines)


def save_picture(robot, q, path: Path) -> Path:
    """Three views of the surface points at q, coloured by link."""
    pts = robot.surface_points(q).numpy()
    link = robot.point_link.numpy()
    fig = new_figure(figsize=(13, 4.6))
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 0.05)
    for k, (elev, azim, title) in enumerate([(20, -60, "perspective"), (0, -90, "front (x-z)"), (90, -90, "top (x-y)")]):
        ax = fig.add_subplot(1, 3, k + 1, projection="3d")
        ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], c=link, cmap="tab20", s=6, depthshade=False)
        for i, c in enumerate("xyz"):
            getattr(ax, f"set_{c}lim")(centre[i] - half, centre[i] + half)
            getattr(ax, f"set_{c}label")(f"{c} (m)")
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=elev, azim=azim)
        ax.set_title(title)
    fig.suptitle(f"{robot.name}: {robot.num_points} surface points, q = "
                 + np.array2string(q.numpy(), precision=2, max_line_width=200))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def run(args: argparse.Namespace) -> int:
    overrides = {}
    if args.num_points is not None:
        overrides["num_points"] = args.num_points
    if args.seed is not None:
        overrides["seed"] = args.seed
    robot = load_robot(args.robot, **overrides)
    q = parse_joints(robot, args.joints)
    print(describe(robot, q))
    if args.png is not None:
        print(f"\npicture: {save_picture(robot, q, args.png)}")
    return 0
