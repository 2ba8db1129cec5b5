"""The closed loop (capture, plan, execute, judge) and the eval-plan benchmark around it."""

import argparse
import json

import numpy as np
import pytest
import torch

from planning import MPPIPlanner, PlannerConfig, zero_dynamics
from pointwm.commands import eval_plan
from pointwm.eval.closed_loop import LoopConfig, run_task
from pointwm.sim import SimWorld
from pointwm.tasks.push import PushConfig, PushEnv, make_task
from pointwm.tasks.reposition import RepositionMove

PCFG = PlannerConfig(K=4, T=4, iterations=1, seed=0)
NEVER = PushConfig(success_radius=1e-6)  # never solved: every round runs


def _env(panda, seed=3, cfg=NEVER):
    return PushEnv(make_task(seed, cfg, panda, T=4), panda, cfg, 4, PCFG.dt)


def _zero(env, seg):
    return zero_dynamics


def _parser():
    parser = argparse.ArgumentParser()
    eval_plan.register(parser.add_subparsers(dest="command"))
    return parser


def test_eval_plan_cli_oracle_one_task(tmp_path):
    parser = _parser()
    args = parser.parse_args(["eval-plan", "--planners", "mppi_oracle", "--tasks", "1", "--max-replans", "1",
                              "--out", str(tmp_path)])
    assert args.func(args) == 0
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["planners"]["mppi_oracle"]["tasks"] == 1
    assert "| MPPI + simulator (oracle) | 1 |" in (tmp_path / "results.md").read_text()
    rows = (tmp_path / "results.jsonl").read_text()
    assert args.func(args) == 0  # same settings: resumes, nothing re-run
    assert (tmp_path / "results.jsonl").read_text() == rows
    args = parser.parse_args(["eval-plan", "--planners", "mppi_oracle", "--tasks", "1", "--max-replans", "2",
                              "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="other settings .*loop"):  # never mixed with other settings
        args.func(args)
    with pytest.raises(ValueError, match="--checkpoint is required"):
        args = parser.parse_args(["eval-plan", "--planners", "random", "--out", str(tmp_path)])
        args.func(args)
    with pytest.raises(ValueError, match="--reposition-over goes with --reposition"):
        args = parser.parse_args(["eval-plan", "--planners", "mppi_zero", "--reposition-over", "--out", str(tmp_path)])
        args.func(args)


def test_zero_flow_control_needs_no_checkpoint(tmp_path):
    """``mppi_zero`` plans with a model that predicts no motion: no checkpoint needed, its
    own row in the table."""
    args = _parser().parse_args(["eval-plan", "--planners", "mppi_zero", "--tasks", "1", "--max-replans", "1",
                                 "--no-progress", "--out", str(tmp_path)])
    assert args.func(args) == 0
    row = json.loads((tmp_path / "results.jsonl").read_text())
    assert row["planner"] == "mppi_zero" and row["replans"] == 1
    assert "| MPPI + zero flow (no prediction) | 1 |" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_eval_plan_workers_give_the_same_results(tmp_path):
    """--workers 2 (spawned processes) runs the same tasks to the same outcomes as one process."""
    parser = _parser()
    out = {}
    for w in (1, 2):
        args = parser.parse_args(["eval-plan", "--planners", "mppi_oracle", "--tasks", "2", "--max-replans", "1",
                                  "--workers", str(w), "--no-progress", "--out", str(tmp_path / f"w{w}")])
        assert args.func(args) == 0
        rows = [json.loads(x) for x in (tmp_path / f"w{w}" / "results.jsonl").read_text().splitlines()]
        out[w] = sorted((r["seed"], r["success"], r["final_error_m"], r["replans"]) for r in rows)
    assert out[1] == out[2] and [r[0] for r in out[1]] == [0, 1]
    with pytest.raises(ValueError, match="--workers"):
        args = parser.parse_args(["eval-plan", "--planners", "mppi_oracle", "--workers", "0", "--out", str(tmp_path)])
        args.func(args)


def test_hidden_object_follows_the_previous_plan(panda, monkeypatch):
    """A round where the cameras lose the object executes the previous plan instead of
    ending the task; the next round plans again."""
    real_observe = PushEnv.observe
    calls, qs = [], []

    def observe(self, rng):
        calls.append(1)
        qs.append(self.q.copy())
        cloud, seg = real_observe(self, rng)
        return (cloud, np.zeros_like(seg)) if len(calls) == 2 else (cloud, seg)  # hidden in round 2

    monkeypatch.setattr(PushEnv, "observe", observe)

    def push_right(scene, rollout):  # dynamics double: every candidate moves the scene +x
        K, T1 = rollout.robot_flow.shape[:2]
        flow = torch.zeros(K, T1 - 1, len(scene.xyz), 3)
        flow[..., 0] = torch.linspace(0.01, 0.1, T1 - 1)[None, :, None]
        return flow

    result = run_task(_env(panda), MPPIPlanner(PCFG), lambda env, seg: push_right, LoopConfig(max_replans=3))
    assert len(calls) == 3 and result.replans == 2  # round 2 did not plan, round 3 did
    assert np.abs(qs[2] - qs[1]).max() > 1e-4  # round 2 moved the robot along the previous plan


def test_settle_steps_hold_the_robot_before_each_capture(panda, monkeypatch):
    """With ``settle_steps`` the robot stands still that many plan steps after each
    execution: captures are (execute_steps + settle_steps) * dt apart in simulated time, and
    the robot does not move between the end of the execution and the capture."""
    real_observe, real_execute = PushEnv.observe, SimWorld.execute
    times, q_at_capture, q_after_execute = [], [], []

    def observe(self, rng):
        times.append(float(self.world.data.time))
        q_at_capture.append(self.q.copy())
        return real_observe(self, rng)

    def execute(self, targets, record=False):
        out = real_execute(self, targets, record)
        if len(targets) == 3:  # the plan's steps, not a hold
            q_after_execute.append(self.q.copy())
        return out

    monkeypatch.setattr(PushEnv, "observe", observe)
    monkeypatch.setattr(SimWorld, "execute", execute)
    run_task(_env(panda), MPPIPlanner(PCFG), _zero, LoopConfig(max_replans=3, settle_steps=2))
    assert np.diff(times) == pytest.approx([(3 + 2) * PCFG.dt] * 2)
    for q_cap, q_exec in zip(q_at_capture[1:], q_after_execute, strict=False):
        assert np.array_equal(q_cap, q_exec)
    with pytest.raises(ValueError, match="settle_steps"):
        LoopConfig(settle_steps=-1)


def test_near_radius_executes_fewer_steps_close_to_the_target(panda, monkeypatch):
    """Within ``near_radius`` of the target a replan executes ``near_execute_steps`` plan
    steps, elsewhere ``execute_steps``: the rule checked on every replan, at a radius that
    every replan is inside, one that none is, and the initial distance (the first inside)."""
    real_observe, real_execute = PushEnv.observe, SimWorld.execute
    log = []

    def observe(self, rng):
        log.append([self.error(), None])
        return real_observe(self, rng)

    def execute(self, targets, record=False):
        if log and log[-1][1] is None:
            log[-1][1] = len(targets)
        return real_execute(self, targets, record)

    monkeypatch.setattr(PushEnv, "observe", observe)
    monkeypatch.setattr(SimWorld, "execute", execute)
    err0 = _env(panda).error()
    for radius, expect_first in ((1.0, 2), (1e-4, 3), (err0 + 1e-6, 2)):
        log.clear()
        loop = LoopConfig(max_replans=3, execute_steps=3, near_radius=radius, near_execute_steps=2)
        run_task(_env(panda), MPPIPlanner(PCFG), _zero, loop)
        assert len(log) == 3 and log[0][1] == expect_first
        for dist, n in log:
            assert n == (2 if dist <= radius else 3)
    with pytest.raises(ValueError, match="near_radius"):
        LoopConfig(near_radius=0.0)
    with pytest.raises(ValueError, match="near_execute_steps"):
        LoopConfig(near_execute_steps=0)


def test_reposition_rounds_replace_planning_and_count(panda, monkeypatch):
    """With a ``RepositionMove``, a round that finds the tool beside the object executes the
    move instead of planning (no planner call), counts in ``repositions`` and uses one of
    ``max_replans``; without it every round plans."""
    calls = []
    real_plan = MPPIPlanner.plan

    def plan(self, *a, **k):
        calls.append(1)
        return real_plan(self, *a, **k)

    monkeypatch.setattr(MPPIPlanner, "plan", plan)
    side = PushConfig(start_angle=90.0, success_radius=1e-6)
    for move in (None, RepositionMove()):
        calls.clear()
        r = run_task(_env(panda, 4, side), MPPIPlanner(PCFG), _zero, LoopConfig(max_replans=6), move)
        assert r.repositions + r.replans == 6 and r.replans == len(calls)
        if move is not None:  # 4-step rounds: the move takes more than one, then the tool is behind and plans
            assert r.repositions >= 2 and r.replans >= 1
        else:
            assert r.repositions == 0


def test_eval_plan_resumes_runs_made_before_a_setting_existed(tmp_path):
    """A settings.json in the old flat form (one ``eval_config``, written before the task,
    loop and move were split, and before the reposition settings existed) resumes as those
    settings' defaults, and refuses any other value of them."""
    def run(*extra):
        args = _parser().parse_args(["eval-plan", "--planners", "mppi_zero", "--max-replans", "1", "--no-progress",
                                     "--out", str(tmp_path), *extra])
        return args.func(args)

    assert run("--tasks", "1") == 0
    path = tmp_path / "settings.json"
    new = json.loads(path.read_text())
    old = {k: v for k, v in new.items() if k not in ("task", "loop", "move")}
    old["eval_config"] = {**new["task"], **new["loop"]}  # the flat form, without the reposition keys
    old["planner_config"]["weights"]["approach"] = 0.0  # old presets listed every weight
    path.write_text(json.dumps(old))
    assert run("--tasks", "2") == 0
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2  # the first task was kept
    with pytest.raises(ValueError, match="move"):
        run("--tasks", "3", "--reposition")
