"""The push task: sampling, start pose, what the planner sees and is asked, its cost terms."""

import numpy as np
import pytest
import torch

from kinematics.ik import tool_link_index
from planning import Goal
from pointwm.tasks.push import (
    COST_TERMS,
    PushConfig,
    PushEnv,
    goal_displacement,
    make_task,
    object_footprint,
    push_start_joints,
)
from pointwm.tasks.reposition import tool_is_behind


def test_tasks_are_seeded(panda):
    a, b = make_task(3, PushConfig(), panda), make_task(3, PushConfig(), panda)
    assert a.target_xy == b.target_xy and np.array_equal(a.q_start, b.q_start)
    assert make_task(4, PushConfig(), panda).target_xy != a.target_xy


def test_start_angle_puts_the_tool_behind_or_beside_the_object(panda):
    """Default tasks start with the tool behind the object, on the far side from the target;
    ``start_angle=90`` puts it beside the object, square to the push, on alternating sides."""
    tool = tool_link_index(panda)
    sides = []
    for seed in (4, 5):
        for angle in (0.0, 90.0):
            task = make_task(seed, PushConfig(start_angle=angle), panda)
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
        PushConfig(start_angle=200.0)


def test_subgoal_cuts_the_way_to_the_target_along_the_line():
    assert goal_displacement((0.5, 0.1), (0.2, -0.3)) == pytest.approx((0.3, 0.4, 0.0))  # the whole way (50 cm)
    assert goal_displacement((0.5, 0.1), (0.2, -0.3), subgoal=0.05) == pytest.approx((0.03, 0.04, 0.0))  # 3-4-5
    assert goal_displacement((0.5, 0.1), (0.49, 0.1), subgoal=0.05) == pytest.approx((0.01, 0.0, 0.0))  # short: kept
    with pytest.raises(ValueError, match="subgoal"):
        PushConfig(subgoal=0.0)


def test_goal_asks_the_visible_points_or_their_centroid_the_way_to_the_target(panda):
    """``goal_match: points``: the object's visible points moved by the way to the target;
    ``centroid``: their centroid moved there (the object may turn)."""
    for match in ("points", "centroid"):
        cfg = PushConfig(goal_match=match)
        env = PushEnv(make_task(3, cfg, panda, T=4), panda, cfg, 4, 0.1)
        cloud, seg = env.observe(np.random.default_rng(0))
        mask = env.object_mask(seg)
        goal = env.goal(cloud, mask)
        way = np.asarray(env.task.target_xy) - env.object_xy()
        seen = cloud.xyz[mask].double().mean(0).numpy()
        assert isinstance(goal, Goal) and torch.equal(goal.mask, mask)
        if match == "centroid":
            assert goal.displacement is None
            assert np.asarray(goal.centroid) == pytest.approx(seen + [*way, 0.0], abs=1e-5)
        else:
            assert goal.centroid is None and np.asarray(goal.displacement) == pytest.approx([*way, 0.0], abs=1e-6)
    with pytest.raises(ValueError, match="goal_match"):
        PushConfig(goal_match="pose")


def test_crop_bounds_what_the_planners_see(panda):
    """``crop``: every observed point lies in the xy box around object and target that is
    ``crop`` beyond half their distance on each axis; a smaller crop sees fewer points."""
    counts = []
    for crop in (0.15, 0.06):
        cfg = PushConfig(crop=crop)
        env = PushEnv(make_task(3, cfg, panda, T=4), panda, cfg, 4, 0.1)
        cloud, _ = env.observe(np.random.default_rng(0))
        obj, tgt = env.object_xy(), np.asarray(env.task.target_xy)
        half = crop + 0.5 * np.abs(obj - tgt)
        assert (np.abs(cloud.xyz[:, :2].double().numpy() - 0.5 * (obj + tgt)) <= half + 1e-6).all()
        counts.append(len(cloud.xyz))
    assert counts[1] < counts[0]
    with pytest.raises(ValueError, match="crop"):
        PushConfig(crop=0.0)


def test_push_start_joints_put_the_tool_behind_the_object(panda):
    """``push_start_joints``: the tool 3 cm behind the footprint of a cylinder's visible points
    (a half shell, the side a camera sees, plus its top), on the line through the centre
    along the way, at half its height, pointing down, the grippers closed and every joint
    within its limits; the way's length does not matter. Out of reach or a vertical way:
    one clear error."""
    a = np.linspace(-np.pi / 2, np.pi / 2, 12)
    z = np.linspace(0.0, 0.05, 5)  # below the top face
    shell = np.array([(0.45 + 0.03 * np.cos(t), 0.1 + 0.03 * np.sin(t), h) for t in a for h in z])
    top = np.array([(0.45 + r * np.cos(t), 0.1 + r * np.sin(t), 0.06) for r in (0.01, 0.02, 0.03)
                    for t in np.linspace(0, 2 * np.pi, 12, endpoint=False)])
    seen = np.concatenate([shell, top])
    c, footprint = object_footprint(seen)
    assert np.allclose(c, (0.45, 0.1), atol=0.002)
    link = tool_link_index(panda)
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
        assert abs(pose[2, 3] - 0.03) < 0.005 and pose[2, 2] < -0.94  # half of 6 cm; z down (within 20 deg)
        assert abs(pose[:2, 0] @ u) < 0.05  # the tool's x axis across the way
        assert tool_is_behind(pose[:2, 3], seen, way)
    q2 = push_start_joints(panda, panda.default_q.numpy(), seen, (0.3, 0.0, 0.0))
    assert np.allclose(q2, push_start_joints(panda, panda.default_q.numpy(), seen, (0.1, 0.0, 0.0)))
    with pytest.raises(ValueError, match="cannot reach"):
        push_start_joints(panda, panda.default_q.numpy(), seen + [1.5, 0.0, 0.0], (0.1, 0.0, 0.0))
    with pytest.raises(ValueError, match="no horizontal part"):
        push_start_joints(panda, panda.default_q.numpy(), seen, (0.0, 0.0, 0.1))


def test_push_cost_terms_are_injected_by_name(panda, scene_push):
    """``COST_TERMS`` plug into the planner by name and count with their weights; a preset
    that weighs ``reach`` without them is refused with one error naming it."""
    from planning import MPPIPlanner, PlannerConfig, PlanningError, zero_dynamics

    cloud, q0, goal = scene_push
    cfg = PlannerConfig(K=8, T=4, iterations=1, weights={"reach": 2.0})
    with pytest.raises(PlanningError, match="reach"):
        MPPIPlanner(cfg)
    plan = MPPIPlanner(cfg, cost_terms=COST_TERMS).plan(zero_dynamics, cloud, panda, q0, goal)
    assert list(plan.cost_terms)[:3] == ["goal", "reach", "approach"]
    assert plan.cost_terms["reach"] > 0 and plan.cost_terms["approach"] == 0.0  # unweighted: not computed
    assert plan.cost == pytest.approx(sum(plan.cost_terms.values()), rel=1e-5)


@pytest.fixture(scope="module")
def scene_push(panda):
    from pointwm.geometry import PointCloud

    g = torch.Generator().manual_seed(0)
    xyz = torch.rand(30, 3, generator=g) * 0.05 + torch.tensor([0.5, 0.0, 0.0])
    goal = Goal(mask=torch.arange(30) < 10, displacement=(0.05, 0.0, 0.0))
    return PointCloud(xyz), panda.default_q.float(), goal
