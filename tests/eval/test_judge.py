"""Plans judged by the simulator (``pointwm.eval.judge``) and the closed_loop_refine preset: a
judge that is the model itself scores each plan at the plan's own cost (the judge runs the
planner's cost exactly), variant specs parse or fail with one clear error, and random
shooting draws the same samples under closed_loop_progress and closed_loop_refine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from planning import Goal, MPPIPlanner, PlannerConfig, RandomShootingPlanner
from pointwm.eval.closed_loop import LoopConfig, run_task
from pointwm.eval.judge import (
    DRIVE_MOVE,
    DRIVE_PRESET,
    judge_plans,
    judge_task,
    parse_variant,
    summary_table,
)
from pointwm.tasks.push import COST_TERMS, PushConfig, PushEnv, make_task

REPO = Path(__file__).resolve().parents[2]


def tool_follower(robot):
    """Every scene point moves with the centroid of the hand's surface points."""
    sel = robot.point_link == robot.link_names.index("panda_hand")

    def dynamics(scene, rollout):
        c = rollout.robot_flow[:, :, sel].mean(2)
        return (c[:, 1:] - c[:, :1])[:, :, None].expand(-1, -1, scene.shape[0], -1)

    return dynamics


@pytest.fixture
def scene_xyz():
    g = torch.Generator().manual_seed(0)
    return torch.rand(40, 3, generator=g) * 0.1 + torch.tensor([0.45, 0.0, 0.0])


def test_judging_with_the_model_gives_the_plans_own_cost(panda, scene_xyz):
    goal = Goal(mask=torch.ones(len(scene_xyz), dtype=torch.bool), displacement=(0.03, 0.0, 0.0))
    variants = [parse_variant("rs=random:closed_loop_refine"), parse_variant("m=mppi:closed_loop_refine")]
    dyn = tool_follower(panda)
    res = judge_plans(variants, dyn, dyn, scene_xyz, panda, panda.default_q.float(), goal, planner_seeds=2)
    for name in ("rs", "m"):
        assert len(res[name]["judged"]) == 2
        torch.testing.assert_close(torch.tensor(res[name]["judged"]), torch.tensor(res[name]["predicted"]))
        assert all(0.0 <= g <= j for g, j in zip(res[name]["judged_goal"], res[name]["judged"], strict=True))
    rows = [{"skipped": None, "variants": res}, {"skipped": "solved", "variants": {}}]
    table = summary_table(rows, "rs")
    assert "| rs |" in table and "| 1.00 |" in table and table.count("\n") == 4


def test_variant_specs():
    v = parse_variant("mean=mppi:closed_loop_progress:output=mean,K=8")
    assert (v.name, v.config.output, v.config.K, v.config.goal_steps) == ("mean", "mean", 8, "all")
    assert isinstance(v.make(3), MPPIPlanner) and v.make(3).config.seed == 3
    assert isinstance(parse_variant("r=random:closed_loop_refine").make(0), RandomShootingPlanner)
    for bad in ("mppi:closed_loop", "x=cem:closed_loop", "x=mppi", "x=mppi:closed_loop:K8"):
        with pytest.raises(ValueError, match="variant"):
            parse_variant(bad)


def test_refine_preset_spends_the_same_budget_and_random_shooting_is_unchanged(panda, scene_xyz):
    prog, refine = PlannerConfig.from_yaml("closed_loop_progress"), PlannerConfig.from_yaml("closed_loop_refine")
    assert (refine.K, refine.iterations) == (16, 4)
    assert refine.K * refine.iterations == prog.K * prog.iterations
    assert refine.replace(K=prog.K, iterations=prog.iterations) == prog
    goal = Goal(mask=torch.ones(len(scene_xyz), dtype=torch.bool), displacement=(0.03, 0.0, 0.0))
    dyn = tool_follower(panda)
    q0 = panda.default_q.float()
    plans = [RandomShootingPlanner(c, COST_TERMS).plan(dyn, scene_xyz, panda, q0, goal) for c in (prog, refine)]
    torch.testing.assert_close(plans[0].actions, plans[1].actions, rtol=0, atol=0)
    assert plans[0].cost == plans[1].cost
    mppi = [MPPIPlanner(c, COST_TERMS).plan(dyn, scene_xyz, panda, q0, goal) for c in (prog, refine)]
    assert mppi[1].info["iterations"] == 4 and mppi[1].samples == 64


@pytest.mark.slow
def test_judged_state_is_the_one_eval_plans_loop_reaches(panda, monkeypatch):
    """``rounds``: the judge drives the task to where eval-plan's ``run_task`` leaves it (seed
    4 makes one plan round and one repositioning move in 2 rounds), and judges from there."""
    from pointwm.eval import judge
    from pointwm.model.ensemble import load_models

    model = load_models([REPO / "assets/checkpoints/tiny_sim.safetensors"])
    pcfg = PlannerConfig.from_yaml(DRIVE_PRESET)
    task = make_task(4, PushConfig(), panda, pcfg.T, pcfg.dt)
    ref = run_task(PushEnv(task, panda, PushConfig(), pcfg.T, pcfg.dt), MPPIPlanner(pcfg, COST_TERMS),
                   lambda env, seg: model, LoopConfig(max_replans=2), DRIVE_MOVE)
    assert (ref.replans, ref.repositions) == (1, 1)
    seen = {}

    def fake_judge(variants, model_, sim, cloud, robot, q0, goal, planner_seeds):
        sim.world.hold(2)  # as run_task ends
        seen["error"] = float(np.linalg.norm(sim.world.object_xy(task.obj) - np.asarray(task.target_xy)))
        return {}

    monkeypatch.setattr(judge, "judge_plans", fake_judge)
    out = judge_task(4, [], model, panda, planner_seeds=1, rounds=2)
    assert out["skipped"] is None and seen["error"] == ref.final_error_m
