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
    rows = (tmp_path / "results.jsonl").read_text()
    assert args.func(args) == 0  # same settings: resumes, nothing re-run
    assert (tmp_path / "results.jsonl").read_text() == rows
    args = parser.parse_args(["eval-plan", "--planners", "mppi_oracle", "--tasks", "1", "--max-replans", "2",
                              "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="other settings .*eval_config"):  # never mixed with other settings
        args.func(args)
    with pytest.raises(ValueError, match="--checkpoint is required"):
        args = parser.parse_args(["eval-plan", "--planners", "random", "--out", str(tmp_path)])
        args.func(args)


def test_zero_flow_control_needs_no_checkpoint(tmp_path, panda):
    """``mppi_zero`` plans with a model that predicts no motion: zeros of the dynamics' shape,
    no checkpoint needed, its own row in the table."""
    import argparse

    from pointwm.commands import eval_plan
    from pointwm.eval.closed_loop import EvalConfig, SimEnv, make_task, zero_dynamics

    env = SimEnv(make_task(3, EvalConfig(), panda), panda, EvalConfig(), T=4, dt=0.1)
    cloud, _ = env.observe(np.random.default_rng(0))
    flow = zero_dynamics(cloud, torch.ones(6, 5, 7, 3))
    assert flow.shape == (6, 4, len(cloud.xyz), 3) and not flow.any()
    parser = argparse.ArgumentParser()
    eval_plan.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval-plan", "--planners", "mppi_zero", "--tasks", "1", "--max-replans", "1",
                              "--no-progress", "--out", str(tmp_path)])
    assert args.func(args) == 0
    row = json.loads((tmp_path / "results.jsonl").read_text())
    assert row["planner"] == "mppi_zero" and row["replans"] == 1
    assert "| MPPI + zero flow (no prediction) | 1 |" in (tmp_path / "results.md").read_text()


def test_eval_plan_workers_give_the_same_results(tmp_path):
    """--workers 2 (spawned processes) runs the same tasks to the same outcomes as one process."""
    import argparse

    from pointwm.commands import eval_plan

    parser = argparse.ArgumentParser()
    eval_plan.register(parser.add_subparsers(dest="command"))
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
    from planning import PlannerConfig
    from pointwm.eval import closed_loop as cl

    real_observe = cl.SimEnv.observe
    calls, qs = [], []

    def observe(self, rng):
        calls.append(1)
        qs.append(self.q.copy())
        cloud, seg = real_observe(self, rng)
        return (cloud, np.zeros_like(seg)) if len(calls) == 2 else (cloud, seg)  # hidden in round 2

    monkeypatch.setattr(cl.SimEnv, "observe", observe)

    def push_right(scene, robot_flows):  # dynamics double: every candidate moves the scene +x
        K, T1 = robot_flows.shape[:2]
        flow = torch.zeros(K, T1 - 1, len(scene.xyz), 3)
        flow[..., 0] = torch.linspace(0.01, 0.1, T1 - 1)[None, :, None]
        return flow

    cfg = cl.EvalConfig(max_replans=3, success_radius=1e-6)  # never succeeds: all 3 rounds run
    pcfg = PlannerConfig(K=4, T=4, iterations=1, seed=0)
    result = cl.run_task(cl.make_task(3, cfg, panda, T=4), "mppi_model", panda, pcfg, cfg, world_model=push_right)
    assert len(calls) == 3 and result.replans == 2  # round 2 did not plan, round 3 did
    assert np.abs(qs[2] - qs[1]).max() > 1e-4  # round 2 moved the robot along the previous plan


def test_start_angle_puts_the_tool_behind_or_beside_the_object(panda):
    """Default tasks start with the tool behind the object, on the far side from the target;
    ``start_angle=90`` puts it beside the object, square to the push, on alternating sides."""
    from pointwm.eval.closed_loop import EvalConfig, make_task

    tool = panda.link_names.index(panda.tool_link_names[0])
    sides = []
    for seed in (4, 5):
        for angle in (0.0, 90.0):
            task = make_task(seed, EvalConfig(start_angle=angle), panda)
            o = task.scene.objects[task.obj]
            xy = panda.link_poses(torch.from_numpy(task.q_start)[None].float())[0, tool, :2, 3].numpy()
            u = np.subtract(task.target_xy, o.xy)
            u /= np.linalg.norm(u)
            v = (xy - np.asarray(o.xy)) / np.linalg.norm(xy - np.asarray(o.xy))
            if angle == 0.0:
                assert u @ v < -0.9
            else:
                assert abs(u @ v) < 0.35
                sides.append(np.sign(u[0] * v[1] - u[1] * v[0]))
    assert sides[0] == -sides[1]
    with pytest.raises(ValueError, match="start_angle"):
        EvalConfig(start_angle=200.0)


def test_subgoal_cuts_the_way_to_the_target_along_the_line():
    from pointwm.eval.closed_loop import EvalConfig, goal_displacement

    assert goal_displacement((0.5, 0.1), (0.2, -0.3)) == pytest.approx((0.3, 0.4, 0.0))  # the whole way (50 cm)
    assert goal_displacement((0.5, 0.1), (0.2, -0.3), subgoal=0.05) == pytest.approx((0.03, 0.04, 0.0))  # 3-4-5
    assert goal_displacement((0.5, 0.1), (0.49, 0.1), subgoal=0.05) == pytest.approx((0.01, 0.0, 0.0))  # short: kept
    with pytest.raises(ValueError, match="subgoal"):
        EvalConfig(subgoal=0.0)


def test_goal_match_centroid_asks_the_visible_centroid_to_the_target(panda, monkeypatch):
    """``goal_match: centroid``: each plan gets a centroid goal at the visible points'
    centroid plus the way to the target; ``points``: the same way as a displacement."""
    from planning import MPPIPlanner, PlannerConfig
    from pointwm.eval import closed_loop as cl

    goals = []
    real_plan = MPPIPlanner.plan

    def plan(self, dyn, scene, robot, q0, goal, **kw):
        goals.append((goal, scene.xyz[goal.mask].double().mean(0).numpy()))
        return real_plan(self, dyn, scene, robot, q0, goal, **kw)

    monkeypatch.setattr(MPPIPlanner, "plan", plan)
    pcfg = PlannerConfig(K=4, T=4, iterations=1, seed=0)
    for match in ("centroid", "points"):
        cfg = cl.EvalConfig(max_replans=1, goal_match=match)
        task = cl.make_task(3, cfg, panda, T=4)
        way = np.asarray(task.target_xy) - cl.SimEnv(task, panda, cfg, 4, pcfg.dt).object_xy()
        cl.run_task(task, "mppi_zero", panda, pcfg, cfg)
        goal, seen = goals.pop()
        if match == "centroid":
            assert goal.displacement is None
            assert np.asarray(goal.centroid) == pytest.approx(seen + [*way, 0.0], abs=1e-5)
        else:
            assert goal.centroid is None and np.asarray(goal.displacement) == pytest.approx([*way, 0.0], abs=1e-6)
    with pytest.raises(ValueError, match="goal_match"):
        cl.EvalConfig(goal_match="pose")


def test_settle_steps_hold_the_robot_before_each_capture(panda, monkeypatch):
    """With ``settle_steps`` the robot stands still that many plan steps after each
    execution: captures are (execute_steps + settle_steps) * dt apart in simulated time, and
    the robot does not move between the end of the execution and the capture."""
    from planning import PlannerConfig
    from pointwm.eval import closed_loop as cl

    real_observe, real_execute = cl.SimEnv.observe, cl.SimEnv.execute
    times, q_at_capture, q_after_execute = [], [], []

    def observe(self, rng):
        times.append(float(self.data.time))
        q_at_capture.append(self.q.copy())
        return real_observe(self, rng)

    def execute(self, targets):
        real_execute(self, targets)
        if len(targets) == 3:  # the plan's steps, not a hold
            q_after_execute.append(self.q.copy())

    monkeypatch.setattr(cl.SimEnv, "observe", observe)
    monkeypatch.setattr(cl.SimEnv, "execute", execute)
    cfg = cl.EvalConfig(max_replans=3, success_radius=1e-6, settle_steps=2)
    pcfg = PlannerConfig(K=4, T=4, iterations=1, seed=0)
    cl.run_task(cl.make_task(3, cfg, panda, T=4), "mppi_zero", panda, pcfg, cfg)
    assert np.diff(times) == pytest.approx([(3 + 2) * pcfg.dt] * 2)
    for q_cap, q_exec in zip(q_at_capture[1:], q_after_execute, strict=False):
        assert np.array_equal(q_cap, q_exec)
    with pytest.raises(ValueError, match="settle_steps"):
        cl.EvalConfig(settle_steps=-1)


def test_near_radius_executes_fewer_steps_close_to_the_target(panda, monkeypatch):
    """Within ``near_radius`` of the target a replan executes ``near_execute_steps`` plan
    steps, elsewhere ``execute_steps``: the rule checked on every replan, at a radius that
    every replan is inside, one that none is, and the initial distance (the first inside)."""
    from planning import PlannerConfig
    from pointwm.eval import closed_loop as cl

    real_observe, real_execute = cl.SimEnv.observe, cl.SimEnv.execute
    log = []

    def observe(self, rng):
        log.append([float(np.linalg.norm(self.object_xy() - np.asarray(self.task.target_xy))), None])
        return real_observe(self, rng)

    def execute(self, targets):
        if log and log[-1][1] is None:
            log[-1][1] = len(targets)
        real_execute(self, targets)

    monkeypatch.setattr(cl.SimEnv, "observe", observe)
    monkeypatch.setattr(cl.SimEnv, "execute", execute)
    pcfg = PlannerConfig(K=4, T=4, iterations=1, seed=0)
    task = cl.make_task(3, cl.EvalConfig(), panda, T=4)
    err0 = float(np.linalg.norm(cl.SimEnv(task, panda, cl.EvalConfig(), 4, pcfg.dt).object_xy()
                                - np.asarray(task.target_xy)))
    for radius, expect_first in ((1.0, 2), (1e-4, 3), (err0 + 1e-6, 2)):
        log.clear()
        cfg = cl.EvalConfig(max_replans=3, success_radius=1e-6, execute_steps=3, near_radius=radius,
                            near_execute_steps=2)
        cl.run_task(task, "mppi_zero", panda, pcfg, cfg)
        assert len(log) == 3 and log[0][1] == expect_first
        for dist, n in log:
            assert n == (2 if dist <= radius else 3)
    with pytest.raises(ValueError, match="near_radius"):
        cl.EvalConfig(near_radius=0.0)
    with pytest.raises(ValueError, match="near_execute_steps"):
        cl.EvalConfig(near_execute_steps=0)


def test_crop_bounds_what_the_planners_see(panda):
    """``crop``: every observed point lies in the xy box around object and target that is
    ``crop`` beyond half their distance on each axis; a smaller crop sees fewer points."""
    from pointwm.eval import closed_loop as cl

    counts = []
    for crop in (0.15, 0.06):
        cfg = cl.EvalConfig(crop=crop)
        task = cl.make_task(3, cfg, panda, T=4)
        env = cl.SimEnv(task, panda, cfg, 4, 0.1)
        cloud, _ = env.observe(np.random.default_rng(0))
        obj, tgt = env.object_xy(), np.asarray(task.target_xy)
        half = crop + 0.5 * np.abs(obj - tgt)
        assert (np.abs(cloud.xyz[:, :2].double().numpy() - 0.5 * (obj + tgt)) <= half + 1e-6).all()
        counts.append(len(cloud.xyz))
    assert counts[1] < counts[0]
    with pytest.raises(ValueError, match="crop"):
        cl.EvalConfig(crop=0.0)


def test_tool_is_behind_hand_cases():
    """Behind = on the far side of the visible centroid from where the object must go, within
    40 % of its radius (at least 1 cm) of the line through it; a ring of radius 3 cm at the
    origin, to go along +x."""
    from pointwm.eval.closed_loop import tool_is_behind

    a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.stack([0.03 * np.cos(a), 0.03 * np.sin(a), np.full_like(a, 0.05)], 1)  # (P, 3): a top rim
    way = (0.1, 0.0, 0.0)
    assert tool_is_behind((-0.05, 0.0), ring, way)
    assert tool_is_behind((-0.05, 0.011), ring, way)  # 1.1 cm off the line: within 0.4 * 3 cm
    assert not tool_is_behind((-0.05, 0.013), ring, way)
    assert not tool_is_behind((0.05, 0.0), ring, way)  # in front
    assert not tool_is_behind((0.0, 0.05), ring, way)  # beside
    assert tool_is_behind((0.05, 0.0), ring, (-0.1, 0.0, 0.0))  # the other way round
    assert tool_is_behind((-0.05, 0.009), ring * [0.3, 0.3, 1.0], way)  # small object: the 1 cm floor
    side = np.concatenate([ring, ring[ring[:, 0] < 0] * [1.0, 1.0, 0.5]])  # side points lean to -x
    assert tool_is_behind((-0.05, 0.011), side, way)  # the centre is the top face's, not pulled to -x


def test_push_start_joints_put_the_tool_behind_the_object(panda):
    """``push_start_joints``: the tool 3 cm behind the footprint of a cylinder's visible points
    (a half shell, the side a camera sees, plus its top), on the line through the centre
    along the way, at half its height, pointing down, the grippers closed and every joint
    within its limits; the way's length does not matter. Out of reach or a vertical way:
    one clear error."""
    from pointwm.data.sim.motion import tool_link
    from pointwm.eval.closed_loop import object_footprint, push_start_joints, tool_is_behind

    a = np.linspace(-np.pi / 2, np.pi / 2, 12)
    z = np.linspace(0.0, 0.05, 5)  # below the top face
    shell = np.array([(0.45 + 0.03 * np.cos(t), 0.1 + 0.03 * np.sin(t), h) for t in a for h in z])
    top = np.array([(0.45 + r * np.cos(t), 0.1 + r * np.sin(t), 0.06) for r in (0.01, 0.02, 0.03)
                    for t in np.linspace(0, 2 * np.pi, 12, endpoint=False)])
    seen = np.concatenate([shell, top])
    c, footprint = object_footprint(seen)
    assert np.allclose(c, (0.45, 0.1), atol=0.002)
    link = tool_link(panda)
    for way in ((0.1, 0.0, 0.0), (0.0, -0.05, 0.0), (-0.06, 0.06, 0.0)):
        q = push_start_joints(panda, panda.default_q.numpy(), seen, way)
        assert (q >= panda.lower.numpy()).all() and (q <= panda.upper.numpy()).all()
        grip = [panda.joint_names.index(n) for n in panda.gripper_joint_names]
        assert np.allclose(q[grip], panda.lower.numpy()[grip])
        pose = panda.link_poses(torch.from_numpy(q[None]))[0, link].numpy()
        u = np.asarray(way[:2]) / np.linalg.norm(way[:2])
        rel = pose[:2, 3] - c
        back = ((c - footprint) @ u).max()
        assert abs(rel[0] * u[1] - rel[1] * u[0]) < 0.005 and abs(-(rel @ u) - (back + 0.03)) < 0.005
        assert abs(pose[2, 3] - 0.03) < 0.005 and pose[2, 2] < -0.94  # half of 6 cm; z down (within 20 deg: the inverse kinematics weighs position first)
        assert abs(pose[:2, 0] @ u) < 0.05  # the tool's x axis across the way
        assert tool_is_behind(pose[:2, 3], seen, way)
    q2 = push_start_joints(panda, panda.default_q.numpy(), seen, (0.3, 0.0, 0.0))
    assert np.allclose(q2, push_start_joints(panda, panda.default_q.numpy(), seen, (0.1, 0.0, 0.0)))
    with pytest.raises(ValueError, match="cannot reach"):
        push_start_joints(panda, panda.default_q.numpy(), seen + [1.5, 0.0, 0.0], (0.1, 0.0, 0.0))
    with pytest.raises(ValueError, match="no horizontal part"):
        push_start_joints(panda, panda.default_q.numpy(), seen, (0.0, 0.0, 0.1))


def _beside(panda, seed):
    """Task ``seed`` started with the tool beside the object (``start_angle=90``): (env, the
    object's visible points (P, 3), the way (dx, dy, dz) m to its target)."""
    from pointwm.eval.closed_loop import EvalConfig, SimEnv, goal_displacement, make_task

    cfg = EvalConfig(start_angle=90.0)
    env = SimEnv(make_task(seed, cfg, panda), panda, cfg, 10, 0.1)
    cloud, seg = env.observe(np.random.default_rng(0))
    seen = cloud.xyz[torch.from_numpy(seg == env.task.obj + 1)].double().numpy()
    return env, seen, goal_displacement(env.task.target_xy, env.object_xy())


def test_reposition_goes_round_the_object_without_touching_it(panda):
    """From a start beside the object (``start_angle=90``), the repositioning path, executed
    in MuJoCo, leaves the object where it was until its last leg (in to the push pose, where
    the hand reaches over a tall object as in any push) and ends with the tool behind it, on the line
    through the object's centre along the way to the target, at half its height, at
    3.5 cm behind the object's footprint (the visible points and their mirror image);
    every target is within the joint limits and one plan step's velocity bound of the last.
    Boxes and cylinders, the tool on either side."""
    from pointwm.data.sim.motion import tool_link
    from pointwm.eval.closed_loop import object_footprint, reposition_path, tool_is_behind

    link = tool_link(panda)
    kinds, refused = set(), []
    for seed in range(4, 10):
        env, seen, way = _beside(panda, seed)
        task = env.task
        tool0 = panda.link_poses(torch.from_numpy(env.q[None]))[0, link, :3, 3].numpy()
        assert not tool_is_behind(tool0[:2], seen, way)
        path = reposition_path(panda, env.q, seen, way, max_steps=60)
        if path is None:  # no way round keeps the hand clear (a tall box): the round plans instead
            refused.append(seed)
            continue
        kinds.add(task.scene.objects[task.obj].kind)
        assert 3 <= len(path) < 60, seed
        steps = np.abs(np.diff(np.concatenate([env.q[None], path]), axis=0))
        assert (steps <= panda.velocity_limits.numpy() * 0.1 + 1e-9).all()
        assert (path >= panda.lower.numpy() - 1e-9).all() and (path <= panda.upper.numpy() + 1e-9).all()
        u = np.asarray(way[:2]) / np.linalg.norm(way[:2])
        c, footprint = object_footprint(seen)
        back = ((c - footprint) @ u).max()
        before = env.object_xy()
        tcp = panda.link_poses(torch.from_numpy(path))[:, link, :2, 3].numpy()
        going_round = np.linalg.norm(tcp - c, axis=1) >= back + 0.04
        k = int(np.argmin(going_round)) if not going_round.all() else len(path)  # where the last leg starts
        env.execute(path[:k])
        assert np.linalg.norm(env.object_xy() - before) < 0.002, seed  # untouched on the way round
        env.execute(path[k:])  # the last leg, in to the push pose: a tall object may meet the hand
        tool = panda.link_poses(torch.from_numpy(env.q[None]))[0, link, :3, 3].numpy()
        assert tool_is_behind(tool[:2], seen, way)
        rel = tool[:2] - c
        assert abs(rel[0] * u[1] - rel[1] * u[0]) < 0.005  # on the line
        assert abs(-(rel @ u) - (back + 0.035)) < 0.005
        assert abs(tool[2] - np.clip(seen[:, 2].max() / 2, 0.02, 0.04)) < 0.005  # half its height
    assert len(refused) <= 3 and kinds == {"box", "cylinder"}  # seeds 5, 7, 9 are tall boxes


def test_reposition_over_takes_the_tool_over_a_tall_box(panda):
    """Where no way round keeps the hand clear (the tall boxes of seeds 5, 7 and 9, tool
    beside them), ``over=True`` goes over the object instead: straight up, across above its
    top (every robot point above it there), down into the push pose behind it on the line
    along the way. Executed in MuJoCo it leaves the object where it was. Cut short in the
    air, ``repositioning_move`` counts the tool as not behind and goes on down."""
    from pointwm.data.sim.motion import tool_link
    from pointwm.eval.closed_loop import (
        EvalConfig,
        object_footprint,
        reposition_path,
        repositioning_move,
        tool_is_behind,
    )

    link = tool_link(panda)
    for seed in (5, 7, 9):
        env, seen, way = _beside(panda, seed)
        q_start = env.q.copy()
        assert reposition_path(panda, env.q, seen, way, max_steps=60) is None, seed  # no way round
        path = reposition_path(panda, env.q, seen, way, max_steps=60, over=True)
        assert path is not None, seed
        steps = np.abs(np.diff(np.concatenate([env.q[None], path]), axis=0))
        assert (steps <= panda.velocity_limits.numpy() * 0.1 + 1e-9).all()
        top = seen[:, 2].max()
        tcp = panda.link_poses(torch.from_numpy(path))[:, link, :3, 3].numpy()
        up = np.isclose(tcp[:, 2], top + 0.03, atol=0.005)
        assert up.sum() >= 2, seed  # across, at 3 cm above the top
        c, footprint = object_footprint(seen)
        sp = panda.surface_points(torch.from_numpy(path[up])).reshape(-1, 3).numpy()
        over_it = np.linalg.norm(sp[:, None, :2] - footprint[None], axis=-1).min(1) < 0.02
        assert over_it.any() and sp[over_it, 2].min() > top, seed  # the robot passes above the object
        before = env.object_xy()
        env.execute(path)
        assert np.linalg.norm(env.object_xy() - before) < 0.002, seed
        tool = panda.link_poses(torch.from_numpy(env.q[None]))[0, link, :3, 3].numpy()
        u = np.asarray(way[:2]) / np.linalg.norm(way[:2])
        rel = tool[:2] - c
        assert abs(rel[0] * u[1] - rel[1] * u[0]) < 0.005 and abs(-(rel @ u) - (((c - footprint) @ u).max() + 0.035)) < 0.005
        assert abs(tool[2] - np.clip(top / 2, 0.02, 0.04)) < 0.005
        assert tool_is_behind(tool[:2], seen, way)
    # cut short in the air above the push pose: behind in xy, but high, so the move goes on down
    part = reposition_path(panda, q_start, seen, way, max_steps=60, over=True)
    q_air = part[int(np.flatnonzero(up)[-1])]
    assert repositioning_move(panda, q_air, seen, way, 0.04, 10, 0.1) is None  # flat only: behind, plan
    rest = repositioning_move(panda, q_air, seen, way, 0.04, 10, 0.1, over=True)
    assert rest is not None and panda.link_poses(torch.from_numpy(rest[-1:]))[0, link, 2, 3] < top
    with pytest.raises(ValueError, match="reposition_over"):
        EvalConfig(reposition_over=True)


def test_repositioning_move_goes_over_only_outside_the_shadow(panda, monkeypatch):
    """With ``over``, the move may go over the object only where the tool is out of its
    shadow (beside or in front of it, or over a footprint's radius off the centre line): from
    behind, within the radius, a push still meets the object and the round may plan. A tool
    1.5 cm above the top is not behind, wherever it is in xy. A ring of radius 3 cm, 6 cm
    tall, to go along +x."""
    from pointwm.data.sim.motion import down_rotation
    from pointwm.eval import closed_loop as cl

    a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.stack([0.45 + 0.03 * np.cos(a), 0.1 + 0.03 * np.sin(a), np.full_like(a, 0.06)], 1)
    calls = []
    monkeypatch.setattr(cl, "reposition_path", lambda *args, **kw: calls.append(kw["over"]) or "path")

    def move(x, y, z, over=True):
        q, err = cl._reach_from_above(panda, panda.default_q.numpy(), np.array([x, y, z]), down_rotation(np.pi / 2))
        assert err < 0.002
        return cl.repositioning_move(panda, q, ring, (0.1, 0.0, 0.0), 0.04, 10, 0.1, over=over)

    assert move(0.39, 0.1, 0.03) is None and calls == []  # behind: plan
    assert move(0.39, 0.12, 0.03) == "path" and calls == [False]  # 2 cm off the line, in the shadow: round only
    assert move(0.45, 0.17, 0.03) == "path" and calls[-1] is True  # beside
    assert move(0.52, 0.1, 0.03) == "path" and calls[-1] is True  # in front
    assert move(0.39, 0.14, 0.03) == "path" and calls[-1] is True  # 4 cm off the line: outside the radius
    assert move(0.39, 0.1, 0.09) == "path" and calls[-1] is True  # above the push pose, 3 cm over the top
    assert move(0.39, 0.1, 0.09, over=False) is None  # without over, height does not count
    assert move(0.39, 0.14, 0.03, over=False) == "path" and calls[-1] is False


def test_reposition_rounds_replace_planning_and_count(panda, monkeypatch):
    """With ``reposition``, a round that finds the tool beside the object executes the
    repositioning path instead of planning (no planner call), counts in ``repositions``
    and uses one of ``max_replans``; without it every round plans."""
    from planning import PlannerConfig
    from pointwm.eval import closed_loop as cl

    calls = []
    real_plan = cl.MPPIPlanner.plan

    def plan(self, *a, **k):
        calls.append(1)
        return real_plan(self, *a, **k)

    monkeypatch.setattr(cl.MPPIPlanner, "plan", plan)
    pcfg = PlannerConfig(K=4, T=4, iterations=1, seed=0)
    task = cl.make_task(4, cl.EvalConfig(start_angle=90.0), panda, T=4)
    for reposition in (False, True):
        calls.clear()
        cfg = cl.EvalConfig(start_angle=90.0, max_replans=6, success_radius=1e-6, reposition=reposition)
        r = cl.run_task(task, "mppi_zero", panda, pcfg, cfg)
        assert r.repositions + r.replans == 6 and r.replans == len(calls)
        if reposition:  # 4-step rounds: the move takes more than one, then the tool is behind and plans
            assert r.repositions >= 2 and r.replans >= 1
        else:
            assert r.repositions == 0
    with pytest.raises(ValueError, match="reposition_clearance"):
        cl.EvalConfig(reposition_clearance=0.0)


def test_eval_plan_resumes_runs_made_before_a_loop_setting_existed(tmp_path):
    """A settings.json written before a loop setting existed (here: without the reposition
    keys) resumes as that setting's default, and refuses any other value of it."""
    import argparse

    from pointwm.commands import eval_plan

    parser = argparse.ArgumentParser()
    eval_plan.register(parser.add_subparsers(dest="command"))

    def run(*extra):
        args = parser.parse_args(["eval-plan", "--planners", "mppi_zero", "--max-replans", "1", "--no-progress",
                                  "--out", str(tmp_path), *extra])
        return args.func(args)

    assert run("--tasks", "1") == 0
    path = tmp_path / "settings.json"
    old = json.loads(path.read_text())
    for k in ("reposition", "reposition_clearance"):
        del old["eval_config"][k]
    path.write_text(json.dumps(old))
    assert run("--tasks", "2") == 0
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 2  # the first task was kept
    with pytest.raises(ValueError, match="eval_config"):
        run("--tasks", "3", "--reposition")
