"""Plain helpers for the visualisation tests (imported by the test modules, not fixtures)."""

from __future__ import annotations

import socket
import sys

import numpy as np

from pointwm.viz import FlowScene

VIZ_CLI = ("import sys, pointwm.cli as c; "
           "c.COMMANDS = list(c.COMMANDS) + ([] if 'viz' in c.COMMANDS else ['viz']); "
           "sys.exit(c.main(sys.argv[1:]))")


def make_scene(N: int = 400, T: int = 4, M: int = 50, seed: int = 0, color=(0.6, 0.6, 0.6),
               gt: bool = True, goal: bool = True) -> FlowScene:
    """A table of N points with a block (a quarter of them) pushed +x by 2 cm per step."""
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([0.3, -0.2, 0.0], [0.6, 0.2, 0.05], (N, 3)).astype(np.float32)
    moving = np.arange(N) < N // 4
    flow = np.zeros((T, N, 3), np.float32)
    flow[:, moving, 0] = 0.02 * np.arange(1, T + 1, dtype=np.float32)[:, None]
    robot = np.stack([np.c_[np.full(M, 0.25 + 0.02 * t), np.zeros(M), np.linspace(0.05, 0.4, M)]
                      for t in range(T + 1)]).astype(np.float32)
    goal_idx = np.flatnonzero(moving)[:3] if goal else None
    return FlowScene.build(
        xyz, robot, pred_flow=flow, gt_flow=flow * 0.8 if gt else None, goal_idx=goal_idx,
        goal_targets=xyz[goal_idx] + [0.1, 0.0, 0.0] if goal else None,
        scene_color=np.tile(np.asarray(color, np.float32), (N, 1)), name="test", meta={"seed": seed},
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(argv: list[str]) -> int:
    """``pointwm ARGV`` in-process with the viz command registered (until cli.COMMANDS lists it)."""
    import pointwm.cli as cli

    saved = cli.COMMANDS
    cli.COMMANDS = list(saved) + ([] if "viz" in saved else ["viz"])
    try:
        return cli.main(argv)
    finally:
        cli.COMMANDS = saved


def viz_command(*args: str) -> list[str]:
    """argv of a subprocess running ``pointwm viz ARGS`` with this interpreter."""
    return [sys.executable, "-c", VIZ_CLI, "viz", *args]
