"""Clips from closed-loop push-task states (``SimConfig.task_prob``): what the planner sees,
flows that agree with the planner's simulator oracle, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pointwm.data.sim import SimConfig, generate_clip
from pointwm.data.sim.task_states import TASK_SEED_BASE, drive_task, plan_at, record

CFG = SimConfig(task_prob=1.0)


@pytest.fixture(scope="module")
def task_clip():
    return generate_clip(3, 0, CFG)


def test_task_clip_starts_from_a_closed_loop_state(task_clip):
    from pointwm.sim import sim_robot

    c, p = task_clip, task_clip.provenance
    assert p["motion"] == "task" and p["task_seed"] >= TASK_SEED_BASE  # never an eval-plan seed
    assert 0 <= p["drive_replans"] <= 3 and 0 <= p["hold_steps"] <= 2 and p["candidate"] in ("plan", "sample")
    # The task's simulator: its two fixed cameras at 128 x 96, one target on the table.
    assert len(c.cameras) == 2 and c.cameras[0].rgb.shape == (96, 128, 3)
    assert c.num_steps == 10 and c.dt == pytest.approx(0.1)
    # The candidate is one the planner may execute: inside the joint limits, and no joint
    # faster than its velocity limit in any step.
    robot = sim_robot("panda")
    q = c.q.astype(np.float64)
    assert (q >= robot.lower.numpy() - 1e-5).all() and (q <= robot.upper.numpy() + 1e-5).all()
    assert (np.abs(np.diff(q, axis=0)) <= robot.velocity_limits.numpy() * c.dt + 1e-5).all()
    static = c.segment == 0
    assert static.any()
    np.testing.assert_array_equal(c.points[:, static], np.broadcast_to(c.xyz[static], c.points[:, static].shape))


def test_same_seed_same_task_clip(task_clip):
    again = generate_clip(3, 0, CFG)
    np.testing.assert_array_equal(again.points, task_clip.points)
    np.testing.assert_array_equal(again.q, task_clip.q)
    assert again.provenance == task_clip.provenance


def test_recorded_flows_match_the_planners_simulator_oracle():
    """The clip's point futures (body poses, rigid transform of t0 points) equal what
    ``SimDynamics`` (the eval-plan oracle, its own code path) predicts for the same joint
    path from the same state."""
    from planning import Rollout, zero_dynamics
    from pointwm.geometry import PointCloud
    from pointwm.sim import SimDynamics

    rng = np.random.default_rng(4)
    state = None
    while state is None:
        state = drive_task(rng, SimConfig())
    world = state.env.world
    actions = plan_at(state, zero_dynamics, rng).actions.double().numpy()
    saved = world.snapshot()
    q0 = world.q.copy()
    clip = record(state, actions, rng, "t", {})
    assert max(clip.provenance["object_moved_m"]) > 0.01, "the candidate should move something"
    world.restore(saved)
    q_traj = torch.from_numpy(np.concatenate([q0[None], actions]))[None]
    flows = SimDynamics(world, clip.segment.astype(np.int64))(
        PointCloud(torch.from_numpy(clip.xyz.astype(np.float64))), Rollout(q_traj, torch.zeros(1, 11, 1, 3)))[0].numpy()
    np.testing.assert_allclose(clip.points[1:] - clip.points[0], flows, atol=1e-5)


def test_task_prob_is_checked_and_recorded_only_when_set():
    with pytest.raises(ValueError, match="task_prob"):
        SimConfig(task_prob=1.5)
    assert "task_prob" not in SimConfig().to_dict()
    assert SimConfig(task_prob=0.5).to_dict()["task_prob"] == 0.5


def test_a_checkpoint_driver_plans_every_replan_and_the_recorded_candidate(monkeypatch, tmp_path):
    """With ``task_driver`` the tasks are driven, and the recorded candidate proposed, by MPPI
    with that checkpoint's model (the learned planner's own states), planning with the robot
    points of the robot's YAML as eval-plan does; the no-motion model is never used."""
    from pointwm.data.sample import robot_by_name
    from pointwm.data.sim import task_states

    calls = []

    class Model:  # a stand-in world model: counts its rollouts, predicts no motion
        def predict(self, scene, robot_flows):
            calls.append(tuple(robot_flows.shape))
            K, T1 = robot_flows.shape[:2]
            return robot_flows.new_zeros(K, T1 - 1, len(scene.xyz), 3)

    ckpt = tmp_path / "driver.safetensors"
    ckpt.write_bytes(b"stand-in")
    monkeypatch.setattr(task_states, "_driver_model", lambda path: Model())
    monkeypatch.setattr(task_states, "zero_dynamics", lambda *a: pytest.fail("the no-motion model was used"))
    cfg = SimConfig(task_prob=1.0, task_driver=str(ckpt))
    clip = generate_clip(3, 1, cfg)
    p = clip.provenance
    assert p["driver"] == str(ckpt) and p["motion"] == "task"
    # one plan per drive replan and one for the recorded candidate, each K x iterations rollouts
    M = robot_by_name("panda").num_points
    assert len(calls) == 2 * (p["drive_replans"] + 1) and all(c == (32, 11, M, 3) for c in calls)


def test_task_driver_needs_tasks_and_a_file(tmp_path):
    with pytest.raises(ValueError, match="task_prob > 0"):
        SimConfig(task_driver=str(tmp_path))
    with pytest.raises(ValueError, match="no such checkpoint"):
        SimConfig(task_prob=1.0, task_driver=str(tmp_path / "missing.safetensors"))
    assert "task_driver" not in SimConfig(task_prob=1.0).to_dict()


def test_generate_cli_rejects_a_missing_driver_in_one_line(tmp_path, capsys):
    from data_helpers import run_cli

    code = run_cli(["generate", str(tmp_path / "a"), "--clips", "1", "--task-prob", "1",
                    "--task-driver", str(tmp_path / "nope.safetensors"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no such checkpoint" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------- episodes
def test_a_snapshot_restores_the_simulator_exactly():
    """Oracle: a run that detours (snapshot, other targets, restore) then continues ends in
    exactly the state of a run that never detoured."""
    from planning import zero_dynamics

    rng = np.random.default_rng(6)
    state = None
    while state is None:
        state = drive_task(rng, SimConfig())
    env = state.env.world
    snap = env.snapshot()
    plan = plan_at(state, zero_dynamics, rng)
    ahead = plan.actions[:4].double().numpy()
    env.execute(ahead)
    straight = (env.data.qpos.copy(), env.data.qvel.copy(), env.q.copy())
    env.restore(snap)
    env.execute(np.repeat(env.q[None] + 0.05, 3, axis=0))  # a detour that moves the robot
    assert not np.allclose(env.q, snap[1])
    env.restore(snap)
    env.execute(ahead)
    for a, b in zip((env.data.qpos, env.data.qvel, env.q), straight, strict=True):
        np.testing.assert_array_equal(a, b)


EPISODE = SimConfig(task_prob=1.0, task_episode=3)


@pytest.fixture(scope="module")
def episode_archive(tmp_path_factory):
    from pointwm.data.archive import iter_shard, read_manifest
    from pointwm.data.sim import generate_archive

    root = tmp_path_factory.mktemp("episodes")
    m = generate_archive(root, 5, seed=4, cfg=EPISODE, workers=1, clips_per_shard=5, progress=False)
    return m, [c for s in read_manifest(root).shards for c in iter_shard(root / s.name, s)]


def test_an_episode_is_one_task_recorded_at_each_replan(episode_archive):
    """Clips e*E .. e*E+E-1 are replans 0..E-1 of one task; between them the robot has run
    the previous replan's plan for ``execute_steps`` (so when the recorded candidate was the
    plan, the next clip starts where that clip is after ``execute_steps`` steps), and the
    archive holds exactly the clips asked for (5 of two 3-clip episodes)."""
    from pointwm.data.sim.task_states import EXECUTE_STEPS

    m, clips = episode_archive
    assert m.num_clips == 5 and [c.key for c in clips] == [f"sim-s4-{i:08d}" for i in range(5)]
    prov = [c.provenance for c in clips]
    assert [p["episode"] for p in prov] == [0, 0, 0, 1, 1] and [p["replan"] for p in prov] == [0, 1, 2, 0, 1]
    assert prov[0]["task_seed"] == prov[2]["task_seed"] != prov[3]["task_seed"]
    n = EXECUTE_STEPS
    follows = 0
    for a, b in zip(clips[:-1], clips[1:], strict=True):
        if b.provenance["replan"] == 0:
            continue
        assert not np.allclose(a.q[0], b.q[0]), "the robot did not move between replans"
        if a.provenance["candidate"] == "plan":
            np.testing.assert_allclose(b.q[0], a.q[n], atol=1e-6)
            # and the pushed object is where clip a's flow has carried it after n steps:
            # the rigid transform of its points (Kabsch) applied to its body origin
            seg = a.segment == a.provenance["object"] + 1
            x0, xn = a.points[0, seg].astype(np.float64), a.points[n, seg].astype(np.float64)
            c0, cn = x0.mean(0), xn.mean(0)
            U, _, Vt = np.linalg.svd((x0 - c0).T @ (xn - cn))
            D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
            R = Vt.T @ D @ U.T
            expected = R @ (np.asarray(a.provenance["object_pos"]) - c0) + cn
            np.testing.assert_allclose(b.provenance["object_pos"], expected, atol=2e-4)
            follows += 1
    assert follows >= 1, "pick a seed whose episode records at least one plan"


def test_an_episode_clip_alone_is_the_archives_clip(episode_archive):
    from pointwm.data.sim import generate_clip

    _, clips = episode_archive
    again = generate_clip(4, 4, EPISODE)
    np.testing.assert_array_equal(again.points, clips[4].points)
    assert again.provenance == clips[4].provenance


def test_task_episode_needs_whole_task_archives():
    with pytest.raises(ValueError, match="task_prob 1"):
        SimConfig(task_prob=0.5, task_episode=4)
    with pytest.raises(ValueError, match="task_episode"):
        SimConfig(task_prob=1.0, task_episode=-1)
    assert "task_episode" not in SimConfig(task_prob=1.0).to_dict()
    assert SimConfig(task_prob=1.0, task_episode=8).to_dict()["task_episode"] == 8
