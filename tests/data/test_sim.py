"""Simulated clips: determinism, exact rigid flows, physical invariants, resumable archives."""

from __future__ import annotations

import numpy as np
import pytest

from pointwm.data.archive import read_manifest
from pointwm.data.sim import SimConfig, generate_archive, generate_clip


def test_clip_is_well_formed(sim_clip, sim_config):
    c = sim_clip
    assert c.num_steps == 10 and c.dt == pytest.approx(0.1)
    assert 1 <= len(c.cameras) <= 2 and c.cameras[0].rgb.shape == (72, 96, 3)
    assert c.q.shape == (11, 8) and c.robot == "panda"
    assert 0 < c.num_points <= sim_config.max_points
    assert c.segment.min() >= 0, "robot pixels must not become scene points"
    lo, hi = np.array(sim_config.workspace_lo), np.array(sim_config.workspace_hi)
    assert ((c.xyz >= lo - 1e-6) & (c.xyz <= hi + 1e-6)).all()
    # One point per 1.5 cm voxel.
    keys = np.floor((c.xyz + 0.0075) / 0.015).astype(np.int64)
    assert len(np.unique(keys, axis=0)) == c.num_points
    assert c.provenance["generator"] == "pointwm.data.sim" and c.provenance["seed"] == 7


def test_same_seed_same_clip(sim_clip, sim_config):
    again = generate_clip(7, 0, sim_config)
    np.testing.assert_array_equal(again.points, sim_clip.points)
    np.testing.assert_array_equal(again.q, sim_clip.q)
    np.testing.assert_array_equal(again.cameras[0].rgb, sim_clip.cameras[0].rgb)
    other = generate_clip(8, 0, sim_config)
    assert other.points.shape != sim_clip.points.shape or not np.array_equal(other.points, sim_clip.points)


def test_static_points_do_not_move(sim_clip):
    static = sim_clip.segment == 0
    assert static.any()
    np.testing.assert_array_equal(sim_clip.points[:, static], np.broadcast_to(sim_clip.xyz[static], sim_clip.points[:, static].shape))


def test_bodies_move_rigidly_and_stay_above_table(sim_clip):
    p = sim_clip.points.astype(np.float64)
    for b in np.unique(sim_clip.segment[sim_clip.segment > 0]):
        m = sim_clip.segment == b
        d0 = np.linalg.norm(p[0, m, None] - p[0, None, m], axis=-1)
        for t in range(1, p.shape[0]):
            dt = np.linalg.norm(p[t, m, None] - p[t, None, m], axis=-1)
            np.testing.assert_allclose(dt, d0, atol=2e-5)
    assert p[..., 2].min() > -0.01  # soft contacts penetrate the table by millimetres at most


def test_backprojected_table_lies_on_the_table(sim_clip):
    from capture import Intrinsics, backproject

    cam = sim_clip.cameras[0]
    K = cam.K
    intr = Intrinsics(K[0, 0], K[1, 1], K[0, 2], K[1, 2], cam.rgb.shape[1], cam.rgb.shape[0])
    depth = np.where(cam.segmentation == 0, cam.depth, 0).astype(np.float32)
    cloud = backproject(depth, intr, cam.T_world_cam)
    assert len(cloud) > 100 and np.abs(cloud.xyz[:, 2].numpy()).max() < 2e-3


def test_archive_is_resumable_and_deterministic(tmp_path, sim_config):
    cfg = SimConfig(width=64, height=48, cameras=(1, 1), objects=(1, 2))
    m = generate_archive(tmp_path, 2, seed=3, cfg=cfg, workers=1, clips_per_shard=1, progress=False)
    assert m.num_clips == 2 and len(m.shards) == 2
    first = {s.name: s.sha256 for s in m.shards}
    shard0 = tmp_path / m.shards[0].name
    mtime0 = shard0.stat().st_mtime_ns
    (tmp_path / m.shards[1].name).unlink()
    m2 = generate_archive(tmp_path, 2, seed=3, cfg=cfg, workers=1, clips_per_shard=1, progress=False)
    assert shard0.stat().st_mtime_ns == mtime0, "a complete shard was regenerated"
    assert {s.name: s.sha256 for s in m2.shards} == first, "the regenerated shard differs"
    assert read_manifest(tmp_path).config["seed"] == 3


def test_generate_cli_with_two_workers_matches_one(tmp_path):
    from data_helpers import run_cli

    args = ["--clips", "2", "--seed", "5", "--width", "64", "--height", "48", "--cameras", "1", "1",
            "--clips-per-shard", "1", "--no-progress"]
    assert run_cli(["generate", str(tmp_path / "a"), "--workers", "1", *args]) == 0
    assert run_cli(["generate", str(tmp_path / "b"), "--workers", "2", *args]) == 0
    a, b = read_manifest(tmp_path / "a"), read_manifest(tmp_path / "b")
    assert [s.sha256 for s in a.shards] == [s.sha256 for s in b.shards]
    assert run_cli(["data", "check", str(tmp_path / "b")]) == 0


def test_held_out_shapes_are_drawn_only_when_asked():
    """``shapes`` picks the object family: the default never draws the held-out kinds, and
    a capsule/ellipsoid scene builds, settles on the table and yields rigid, exact flows."""
    from pointwm.sim.scene import sample_scene

    default = SimConfig()
    kinds = {o.kind for s in range(40) for o in sample_scene(np.random.default_rng(s), default).objects}
    assert kinds == {"box", "cylinder", "sphere"}
    held = SimConfig(width=64, height=48, cameras=(1, 1), objects=(2, 3), shapes=("capsule", "ellipsoid"))
    kinds = {o.kind for s in range(40) for o in sample_scene(np.random.default_rng(s), held).objects}
    assert kinds == {"capsule", "ellipsoid"}
    clip = generate_clip(5, 0, held)
    assert set(clip.provenance["objects"]) <= {"capsule", "ellipsoid"}
    p = clip.points.astype(np.float64)
    objects = clip.segment > 0
    assert objects.any() and p[..., 2].min() > -0.01
    for b in np.unique(clip.segment[objects]):  # rigid bodies
        m = clip.segment == b
        d0 = np.linalg.norm(p[0, m, None] - p[0, None, m], axis=-1)
        np.testing.assert_allclose(np.linalg.norm(p[-1, m, None] - p[-1, None, m], axis=-1), d0, atol=2e-5)


def test_extra_training_shapes_build_settle_and_move_rigidly():
    """``lying_cylinder``, ``prism`` and ``rock`` (convex meshes) are drawn only when asked,
    rest on the table (body centre at its half height within 3 mm after 0.5 s) and yield
    rigid flows."""
    import mujoco

    from kinematics import load_robot
    from pointwm.sim.scene import ObjectSpec, SceneSpec, build_mjcf, sample_scene

    extra = SimConfig(width=64, height=48, cameras=(1, 1), objects=(2, 3), shapes=("lying_cylinder", "prism", "rock"))
    kinds = {o.kind for s in range(40) for o in sample_scene(np.random.default_rng(s), extra).objects}
    assert kinds == {"lying_cylinder", "prism", "rock"}
    rock = next(o for s in range(40) for o in sample_scene(np.random.default_rng(s), extra).objects if o.kind == "rock")
    prism = ObjectSpec("prism", (6.0, 0.04, 0.02, 0.03), (0.5, 0.0), 0.0, 0.1, 0.5, (1, 0, 0, 1))
    v = prism.prism_vertices()  # hand-computed: hexagon of circumradius 4 cm below, 2 cm above
    assert v.shape == (12, 3) and np.allclose(v[0], (0.04, 0, -0.03)) and np.allclose(v[6], (0.02, 0, 0.03))
    assert prism.radius == 0.04 and prism.half_height == 0.03
    lying = ObjectSpec("lying_cylinder", (0.02, 0.05), (0.4, 0.2), 0.7, 0.1, 0.5, (0, 1, 0, 1))
    assert lying.half_height == 0.02 and lying.radius == pytest.approx(np.hypot(0.02, 0.05))
    rock = ObjectSpec("rock", rock.size, (0.5, -0.2), 0.3, 0.1, 0.5, (0, 0, 1, 1))
    assert rock.half_height == pytest.approx(-rock.rock_vertices()[:, 2].min())
    xml, _ = build_mjcf(SceneSpec((prism, lying, rock), (), (0.5, 0.4, 0.3, 1.0)), load_robot("panda"), extra)
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    for _ in range(int(0.5 / m.opt.timestep)):
        mujoco.mj_step(m, d)
    for k, o in enumerate((prism, lying, rock)):
        assert d.xpos[m.body(f"obj_{k}").id][2] == pytest.approx(o.half_height, abs=0.003)
    for seed in (0, 1):
        clip = generate_clip(seed, 0, extra)
        assert set(clip.provenance["objects"]) <= {"lying_cylinder", "prism", "rock"}
        p = clip.points.astype(np.float64)
        objects = clip.segment > 0
        assert objects.any() and p[..., 2].min() > -0.01
        for b in np.unique(clip.segment[objects]):
            m = clip.segment == b
            d0 = np.linalg.norm(p[0, m, None] - p[0, None, m], axis=-1)
            np.testing.assert_allclose(np.linalg.norm(p[-1, m, None] - p[-1, None, m], axis=-1), d0, atol=2e-5)


@pytest.mark.parametrize("shapes", [(), ("cube",), ("box", "box")])
def test_bad_shapes_are_rejected(shapes):
    with pytest.raises(ValueError, match="SimConfig.shapes"):
        SimConfig(shapes=shapes)


def _assert_feasible(robot, q: np.ndarray, step_dt: float) -> None:
    """Joint path q (T+1, J): inside the joint limits, within the velocity limits over
    ``step_dt`` (s) a step, and every robot point above the table."""
    from pointwm.sim.scene import clear_of_table

    lo, hi = robot.lower.numpy(), robot.upper.numpy()
    assert ((q >= lo - 1e-9) & (q <= hi + 1e-9)).all()
    assert (np.abs(np.diff(q, axis=0)) <= robot.velocity_limits.numpy() * step_dt + 1e-9).all()
    assert clear_of_table(robot, q)


def _reachable_motions(plan, robot, obj, kind: str, seeds: int = 12, at_least: int = 6) -> list:
    """The motions ``plan(robot, rng, obj, 0, 10, 0.1)`` draws for seeds 0..seeds-1 that are
    reachable (at least ``at_least``), each checked: its kind, target 0, (11, J) joints, and
    feasible (:func:`_assert_feasible`)."""
    motions = [m for s in range(seeds) if (m := plan(robot, np.random.default_rng(s), obj, 0, 10, 0.1)) is not None]
    for m in motions:
        assert m.kind == kind and m.target == 0 and m.q.shape == (11, robot.num_joints)
        _assert_feasible(robot, m.q, 0.1)
    assert len(motions) >= at_least, f"only {len(motions)}/{seeds} {kind}s were reachable"
    return motions


def test_probe_motions_start_beside_the_object_and_respect_limits():
    """Probes: the tool starts within 6 cm (+ tolerance) of the object's bounding circle,
    every step stays inside the joint and velocity limits and above the table."""
    import torch

    from kinematics import load_robot
    from kinematics.ik import tool_link_index as tool_link
    from pointwm.data.sim.motion import plan_probe
    from pointwm.sim.scene import ObjectSpec

    robot = load_robot("panda")
    obj = ObjectSpec("box", (0.03, 0.03, 0.03), (0.5, 0.05), 0.0, 0.3, 0.6, (1, 0, 0, 1))
    for m in _reachable_motions(plan_probe, robot, obj, "probe"):
        tip = robot.link_poses(torch.from_numpy(m.q[0]))[tool_link(robot), :3, 3].numpy()
        assert np.hypot(*(tip[:2] - np.array(obj.xy))) <= obj.radius + 0.06 + 0.011


def test_retreat_motions_start_at_the_object_and_move_away():
    """Retreats: the tool starts within 1 cm (+ IK tolerance) of the object's bounding circle
    and moves in a straight line within 100 degrees of straight away from the object's centre
    (hand-computed from the tool's positions), inside the joint and velocity limits."""
    import torch

    from kinematics import load_robot
    from kinematics.ik import tool_link_index as tool_link
    from pointwm.data.sim.motion import plan_retreat
    from pointwm.sim.scene import ObjectSpec

    robot = load_robot("panda")
    obj = ObjectSpec("cylinder", (0.03, 0.03), (0.5, 0.05), 0.0, 0.3, 0.6, (1, 0, 0, 1))
    motions = _reachable_motions(plan_retreat, robot, obj, "retreat")
    sideways = 0
    for m in motions:
        tips = robot.link_poses(torch.from_numpy(m.q))[:, tool_link(robot), :3, 3].numpy()
        out = tips[0, :2] - np.array(obj.xy)
        assert np.linalg.norm(out) <= obj.radius + 0.01 + 0.011
        move = tips[-1, :2] - tips[0, :2]
        cos = move @ out / (np.linalg.norm(move) * np.linalg.norm(out))
        assert cos >= np.cos(np.radians(100.0)) - 0.05 and 0.035 <= np.linalg.norm(move) <= 0.16
        mid = tips[5, :2] - tips[0, :2]
        assert abs(mid[0] * move[1] - mid[1] * move[0]) / np.linalg.norm(move) < 0.005  # straight
        sideways += cos < 0.5
    assert 0 < sideways < len(motions)  # both back and aside are drawn


def test_push_gap_and_length_place_the_tool_and_its_path():
    """plan_push: the tool starts ``gap`` behind the object's bounding circle, on the line
    through the object's centre, and moves ``length`` in a straight line (hand-computed from
    the first and last tool positions); the defaults draw as before (same seed, same path)."""
    import torch

    from kinematics import load_robot
    from kinematics.ik import tool_link_index as tool_link
    from pointwm.data.sim.motion import plan_push
    from pointwm.sim.scene import ObjectSpec

    robot = load_robot("panda")
    obj = ObjectSpec("cylinder", (0.03, 0.03), (0.5, 0.05), 0.0, 0.3, 0.6, (1, 0, 0, 1))
    made = 0
    for s in range(10):
        m = plan_push(robot, np.random.default_rng(s), obj, 0, 10, 0.1, gap=(0.0, 0.005), length=(0.22, 0.25))
        if m is None:
            continue
        made += 1
        tips = robot.link_poses(torch.from_numpy(m.q[[0, -1]]))[:, tool_link(robot), :3, 3].numpy()
        start_gap = np.hypot(*(tips[0, :2] - np.array(obj.xy))) - obj.radius
        assert -0.002 <= start_gap <= 0.005 + 0.002, start_gap
        assert 0.22 - 0.002 <= np.linalg.norm(tips[1, :2] - tips[0, :2]) <= 0.25 + 0.002
        assert np.allclose(m.q, plan_push(robot, np.random.default_rng(s), obj, 0, 10, 0.1,
                                          gap=(0.0, 0.005), length=(0.22, 0.25)).q)
    assert made >= 5, f"only {made}/10 pushes were reachable"
    a = plan_push(robot, np.random.default_rng(3), obj, 0, 10, 0.1)
    b = plan_push(robot, np.random.default_rng(3), obj, 0, 10, 0.1, gap=(0.02, 0.06), length=(0.08, 0.2))
    assert (a is None and b is None) or np.array_equal(a.q, b.q)


def test_push_offset_moves_the_push_line_off_the_centre():
    """plan_push(offset=M): the straight tool path passes the object's centre at a lateral
    distance of at most M (hand-computed from the path's first and last tool positions), and
    the draws spread over that band; offset 0 passes through the centre."""
    import torch

    from kinematics import load_robot
    from kinematics.ik import tool_link_index as tool_link
    from pointwm.data.sim.motion import plan_push
    from pointwm.sim.scene import ObjectSpec

    robot = load_robot("panda")
    obj = ObjectSpec("cylinder", (0.03, 0.03), (0.5, 0.05), 0.0, 0.3, 0.6, (1, 0, 0, 1))

    def lateral(m):
        tips = robot.link_poses(torch.from_numpy(m.q[[0, -1]]))[:, tool_link(robot), :2, 3].numpy()
        u = (tips[1] - tips[0]) / np.linalg.norm(tips[1] - tips[0])
        r = np.asarray(obj.xy) - tips[0]
        return float(u[0] * r[1] - u[1] * r[0])

    offsets = [lateral(m) for s in range(12)
               if (m := plan_push(robot, np.random.default_rng(s), obj, 0, 10, 0.1, offset=0.03)) is not None]
    assert len(offsets) >= 6
    assert max(abs(o) for o in offsets) <= 0.03 + 0.002
    assert max(abs(o) for o in offsets) > 0.01  # the band is used, not only its middle
    centred = [lateral(m) for s in range(4) if (m := plan_push(robot, np.random.default_rng(s), obj, 0, 10, 0.1)) is not None]
    assert max(abs(o) for o in centred) <= 0.002
    with pytest.raises(ValueError, match="SimConfig.push_offset"):
        SimConfig(push_offset=-0.01)


@pytest.mark.parametrize("field", ["push_gap", "push_length"])
def test_bad_push_ranges_are_rejected(field):
    with pytest.raises(ValueError, match=f"SimConfig.{field}"):
        SimConfig(**{field: (0.05, 0.01)})
    with pytest.raises(ValueError, match=f"SimConfig.{field}"):
        SimConfig(**{field: (-0.01, 0.01)})


def test_probe_prob_one_makes_probes():
    c = generate_clip(11, 0, SimConfig(width=64, height=48, cameras=(1, 1), objects=(1, 2), push_prob=1.0, probe_prob=1.0))
    assert c.provenance["motion"] == "probe"


def test_retreat_prob_one_makes_retreats():
    c = generate_clip(11, 0, SimConfig(width=64, height=48, cameras=(1, 1), objects=(1, 2), push_prob=1.0,
                                       retreat_prob=1.0))
    assert c.provenance["motion"] == "retreat"


def test_later_fields_are_recorded_only_when_not_default():
    """Archives from before ``shapes``/``probe_prob`` existed must still resume: their
    manifest config has neither key, and the default config must write neither."""
    d = SimConfig().to_dict()
    assert "shapes" not in d and "probe_prob" not in d and "retreat_prob" not in d
    assert "push_gap" not in d and "push_length" not in d and "push_offset" not in d
    d = SimConfig(shapes=("capsule", "ellipsoid"), probe_prob=0.5, push_gap=(0.0, 0.01)).to_dict()
    assert d["shapes"] == ["capsule", "ellipsoid"] and d["probe_prob"] == 0.5 and d["push_gap"] == [0.0, 0.01]


def test_objects_the_robot_never_nears_stay_still():
    # Physical invariant: a settled object that nothing touches does not move. Shapes that
    # can rock or roll (ellipsoids, lying cylinders, spheres, capsules), reaching motions only.
    import torch

    from pointwm.data import clip_to_sample

    cfg = SimConfig(width=64, height=48, cameras=(1, 1), objects=(3, 4), push_prob=0.0,
                    shapes=("ellipsoid", "lying_cylinder", "sphere", "capsule"))
    checked = 0
    for index in range(12):
        clip = generate_clip(3, index, cfg)
        robot = clip_to_sample(clip, 500).robot_points.reshape(-1, 3)
        for k in range(1, len(clip.provenance["objects"]) + 1):
            pts = clip.points[:, clip.segment == k]
            if pts.shape[1] == 0:
                continue
            if float(torch.cdist(robot, torch.from_numpy(pts[0])).min()) < 0.05:
                continue  # the robot comes near: contact is possible
            checked += 1
            drift = np.linalg.norm(pts - pts[:1], axis=-1).max()
            assert drift < 0.005, (clip.key, clip.provenance["objects"][k - 1], float(drift))
    assert checked >= 10


def test_simulator_checks_use_area_points_whatever_the_yaml_density():
    # panda.yaml concentrates the world model's robot points on the gripper; the generator's
    # and push tasks' table-clearance checks use area-sampled points (the same robot
    # otherwise), so archives and tasks do not change with that model-input setting.
    import torch

    from kinematics import load_robot
    from pointwm.sim import sim_robot

    yaml_robot, sim = load_robot("panda"), sim_robot("panda")
    assert yaml_robot.point_sampling["dense_links"] and not sim.point_sampling["dense_links"]
    area = load_robot("panda", dense_links=(), dense_fraction=0.0)
    assert torch.equal(sim.points_local, area.points_local) and sim.joint_names == yaml_robot.joint_names
    assert not torch.equal(sim.points_local, yaml_robot.points_local)
