"""The push task's scripted repositioning move: round or over the object, in MuJoCo."""

import numpy as np
import pytest
import torch

from kinematics.ik import arm_and_grippers, down_rotation, reach_from_above, tool_link_index
from pointwm.tasks import reposition
from pointwm.tasks.push import PushConfig, PushEnv, goal_displacement, make_task, object_footprint
from pointwm.tasks.reposition import RepositionMove, reposition_path, tool_is_behind


def test_tool_is_behind_hand_cases():
    """Behind = on the far side of the visible centroid from where the object must go, within
    40 % of its radius (at least 1 cm) of the line through it; a ring of radius 3 cm at the
    origin, to go along +x."""
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


def _beside(panda, seed):
    """Task ``seed`` started with the tool beside the object (``start_angle=90``): (env, the
    object's visible points (P, 3), the way (dx, dy, dz) m to its target)."""
    cfg = PushConfig(start_angle=90.0)
    env = PushEnv(make_task(seed, cfg, panda), panda, cfg, 10, 0.1)
    cloud, seg = env.observe(np.random.default_rng(0))
    seen = cloud.xyz[env.object_mask(seg)].double().numpy()
    return env, seen, goal_displacement(env.task.target_xy, env.object_xy())


def test_reposition_goes_round_the_object_without_touching_it(panda):
    """From a start beside the object (``start_angle=90``), the repositioning path, executed
    in MuJoCo, leaves the object where it was until its last leg (in to the push pose, where
    the hand reaches over a tall object as in any push) and ends with the tool behind it, on the line
    through the object's centre along the way to the target, at half its height, at
    3.5 cm behind the object's footprint (the visible points and their mirror image);
    every target is within the joint limits and one plan step's velocity bound of the last.
    Boxes and cylinders, the tool on either side."""
    link = tool_link_index(panda)
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
        env.world.execute(path[:k])
        assert np.linalg.norm(env.object_xy() - before) < 0.002, seed  # untouched on the way round
        env.world.execute(path[k:])  # the last leg, in to the push pose: a tall object may meet the hand
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
    air, ``RepositionMove`` counts the tool as not behind and goes on down."""
    link = tool_link_index(panda)
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
        env.world.execute(path)
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
    assert RepositionMove(0.04)(panda, q_air, seen, way, 10, 0.1) is None  # flat only: behind, plan
    rest = RepositionMove(0.04, over=True)(panda, q_air, seen, way, 10, 0.1)
    assert rest is not None and panda.link_poses(torch.from_numpy(rest[-1:]))[0, link, 2, 3] < top
    with pytest.raises(ValueError, match="clearance"):
        RepositionMove(clearance=0.0)


def test_repositioning_move_goes_over_only_outside_the_shadow(panda, monkeypatch):
    """With ``over``, the move may go over the object only where the tool is out of its
    shadow (beside or in front of it, or over a footprint's radius off the centre line): from
    behind, within the radius, a push still meets the object and the round may plan. A tool
    1.5 cm above the top is not behind, wherever it is in xy. A ring of radius 3 cm, 6 cm
    tall, to go along +x."""
    a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.stack([0.45 + 0.03 * np.cos(a), 0.1 + 0.03 * np.sin(a), np.full_like(a, 0.06)], 1)
    calls = []
    monkeypatch.setattr(reposition, "reposition_path", lambda *args, **kw: calls.append(kw["over"]) or "path")
    arm, grip = arm_and_grippers(panda)
    q_closed = panda.default_q.numpy().copy()
    q_closed[grip] = panda.lower.numpy()[grip]

    def move(x, y, z, over=True):
        q, err = reach_from_above(panda, q_closed, np.array([x, y, z]), down_rotation(np.pi / 2), arm)
        assert err < 0.002
        return RepositionMove(0.04, over)(panda, q, ring, (0.1, 0.0, 0.0), 10, 0.1)

    assert move(0.39, 0.1, 0.03) is None and calls == []  # behind: plan
    assert move(0.39, 0.12, 0.03) == "path" and calls == [False]  # 2 cm off the line, in the shadow: round only
    assert move(0.45, 0.17, 0.03) == "path" and calls[-1] is True  # beside
    assert move(0.52, 0.1, 0.03) == "path" and calls[-1] is True  # in front
    assert move(0.39, 0.14, 0.03) == "path" and calls[-1] is True  # 4 cm off the line: outside the radius
    assert move(0.39, 0.1, 0.09) == "path" and calls[-1] is True  # above the push pose, 3 cm over the top
    assert move(0.39, 0.1, 0.09, over=False) is None  # without over, height does not count
    assert move(0.39, 0.14, 0.03, over=False) == "path" and calls[-1] is False
