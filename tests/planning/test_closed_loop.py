"""Closed-loop push evaluation plumbing (MuJoCo, one short task, oracle planner)."""

import json
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
pytest.importorskip("mujoco")


def test_sim_dynamics_still_robot_gives_zero_flow(panda):
    from pointwm.eval.closed_loop import EvalConfig, SimDynamics, SimEnv, make_task

    cfg = EvalConfig()
    task = make_task(3, cfg, panda)
    assert make_task(3, cfg, panda).target_xy == task.target_xy  # seeded
    env = SimEnv(task, panda, cfg, T=4, dt=0.1)
    cloud, seg = env.observe(np.random.default_rng(0))
    assert (seg == task.obj + 1).any()
    q = torch.from_numpy(np.repeat(env.q[None, None], 5, axis=1))  # (1, 5, J): hold still
    before = env.object_xy()
    flow = SimDynamics(env, seg)(cloud, None, q_traj=q)
    assert flow.shape == (1, 4, len(cloud.xyz), 3) and float(flow.abs().max()) < 2e-3
    np.testing.assert_allclose(env.object_xy(), before)  # the oracle restores the state


def test_eval_plan_cli_oracle_one_task(tmp_path):
    import argparse

    from pointwm.commands import eval_plan

    parser = argparse.ArgumentParser()
    eval_plan.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval-plan", "--planners", "mppi_oracle", "--tasks", "1", "--max-replans", "1",
                              "--out", str(tmp_path)])
    assert args.func(args) == 0
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["planners"]["mppi_oracle"]["tasks"] == 1
    assert "| MPPI + simulator (oracle) | 1 |" in (tmp_path / "results.md").read_text()
    with pytest.raises(ValueError, match="--checkpoint is required"):
        args = parser.parse_args(["eval-plan", "--planners", "random", "--out", str(tmp_path)])
        args.func(args)
