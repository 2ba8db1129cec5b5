"""scripts/plan_quality.py and the closed_loop_refine preset: a judge that is the model itself
scores each plan at the plan's own cost (the judge runs the planner's cost exactly), variant
specs parse or fail with one clear error, and random shooting draws the same samples under
closed_loop_progress and closed_loop_refine (the README reuses its outcomes across them)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

from planning import Goal, MPPIPlanner, PlannerConfig, RandomShootingPlanner

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pq():
    return runpy.run_path(str(REPO / "scripts/plan_quality.py"))


def tool_follower(robot):
    """Every scene point moves with the centroid of the hand's surface points."""
    sel = robot.point_link == robot.link_names.index("panda_hand")

    def dynamics(scene, robot_flows):
        c = robot_flows[:, :, sel].mean(2)
        return (c[:, 1:] - c[:, :1])[:, :, None].expand(-1, -1, scene.shape[0], -1)

    return dynamics


def test_judging_with_the_model_gives_the_plans_own_cost(pq, panda, scene_xyz):
    goal = Goal(mask=torch.ones(len(scene_xyz), dtype=torch.bool), displacement=(0.03, 0.0, 0.0))
    variants = [pq["parse_variant"]("rs=random:closed_loop_refine"),
                pq["parse_variant"]("m=mppi:closed_loop_refine")]
    dyn = tool_follower(panda)
    res = pq["judge_plans"](variants, dyn, dyn, scene_xyz, panda, panda.default_q.float(), goal, planner_seeds=2)
    for name in ("rs", "m"):
        assert len(res[name]["judged"]) == 2
        torch.testing.assert_close(torch.tensor(res[name]["judged"]), torch.tensor(res[name]["predicted"]))
        assert all(0.0 <= g <= j for g, j in zip(res[name]["judged_goal"], res[name]["judged"], strict=True))


def test_variant_specs(pq):
    name, cls, cfg = pq["parse_variant"]("mean=mppi:closed_loop_progress:output=mean,K=8")
    assert (name, cls, cfg.output, cfg.K, cfg.goal_steps) == ("mean", MPPIPlanner, "mean", 8, "all")
    assert pq["parse_variant"]("r=random:closed_loop_refine")[1] is RandomShootingPlanner
    for bad in ("mppi:closed_loop", "x=cem:closed_loop", "x=mppi", "x=mppi:closed_loop:K8"):
        with pytest.raises(ValueError, match="--variants"):
            pq["parse_variant"](bad)


def test_refine_preset_spends_the_same_budget_and_random_shooting_is_unchanged(panda, scene_xyz):
    prog, refine = PlannerConfig.from_yaml("closed_loop_progress"), PlannerConfig.from_yaml("closed_loop_refine")
    assert (refine.K, refine.iterations) == (16, 4)
    assert refine.K * refine.iterations == prog.K * prog.iterations
    assert refine.replace(K=prog.K, iterations=prog.iterations) == prog
    goal = Goal(mask=torch.ones(len(scene_xyz), dtype=torch.bool), displacement=(0.03, 0.0, 0.0))
    dyn = tool_follower(panda)
    plans = [RandomShootingPlanner(c).plan(dyn, scene_xyz, panda, panda.default_q.float(), goal) for c in (prog, refine)]
    torch.testing.assert_close(plans[0].actions, plans[1].actions, rtol=0, atol=0)
    assert plans[0].cost == plans[1].cost
    mppi = [MPPIPlanner(c).plan(dyn, scene_xyz, panda, panda.default_q.float(), goal) for c in (prog, refine)]
    assert mppi[1].info["iterations"] == 4 and mppi[1].samples == 64


@pytest.mark.slow
def test_drive_reaches_the_state_eval_plans_loop_reaches(pq, panda):
    """``--rounds``: the script's loop leaves the task where eval-plan's ``run_task`` does
    (seed 4 makes one plan round and one repositioning move in 2 rounds)."""
    import numpy as np

    from pointwm.eval import closed_loop as cl
    from pointwm.model.ensemble import load_models

    model = load_models([REPO / "assets/checkpoints/tiny_sim.safetensors"])
    pcfg = PlannerConfig.from_yaml("closed_loop_progress")
    ecfg = cl.EvalConfig(reposition=True, max_replans=2)
    task = cl.make_task(4, ecfg, panda, pcfg.T, pcfg.dt)
    ref = cl.run_task(task, "mppi_model", panda, pcfg, ecfg, world_model=model)
    assert (ref.replans, ref.repositions) == (1, 1)
    env = cl.SimEnv(task, panda, ecfg, pcfg.T, pcfg.dt)
    pq["drive"](env, task, panda, model, 2, np.random.default_rng(task.seed))
    env.hold(2)  # as run_task ends
    assert float(np.linalg.norm(env.object_xy() - np.asarray(task.target_xy))) == ref.final_error_m
