"""Surface points: exact count, determinism, rigidity, point flows, features, mesh formats."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from kin_helpers import MIXED_URDF, pybullet_urdf, random_q, write_urdf

from kinematics import RobotModel


def test_exact_count_and_determinism(tmp_path):
    path = write_urdf(tmp_path, MIXED_URDF)
    for m in (1, 7, 500, 1234):
        model = RobotModel.from_urdf(path, num_points=m, seed=3)
        assert model.points_local.shape == (m, 3) and model.point_link.shape == (m,)
    a = RobotModel.from_urdf(path, num_points=300, seed=3)
    b = RobotModel.from_urdf(path, num_points=300, seed=3)
    c = RobotModel.from_urdf(path, num_points=300, seed=4)
    assert torch.equal(a.points_local, b.points_local) and torch.equal(a.point_link, b.point_link)
    assert not torch.equal(a.points_local, c.points_local)


def test_points_cover_all_links_by_area(bimanual):
    from kinematics import load_robot

    panda = load_robot("panda", dense_links=(), dense_fraction=0.0)  # the YAML's gripper density off
    counts = torch.bincount(panda.point_link, minlength=panda.num_links)
    for name in ("panda_link0", "panda_link1", "panda_link4", "panda_link7", "panda_hand"):
        assert counts[panda.link_index(name)] > 0, name  # the whole arm, not only the gripper
    assert torch.all(panda.point_link[1:] >= panda.point_link[:-1])  # grouped by link
    # Area sampling: each link's share of points follows its share of area.
    areas = np.array([panda._surfaces[n].area for n in panda.link_names])
    expected = areas / areas.sum() * panda.num_points
    assert np.abs(counts.numpy() - expected).max() < 4 * np.sqrt(expected.max()) + 1
    assert bimanual.num_points == 1000 and len(torch.unique(bimanual.point_link)) > 20


def test_dense_links_get_their_fraction_and_bad_values_are_named():
    # dense_links / dense_fraction in a robot YAML: those links get the fraction of the points
    # (by area among themselves), the other links the rest (by area among themselves).
    from kinematics import KinematicsError, load_robot

    # The shipped panda.yaml puts half of its points on the hand and fingers.
    r = load_robot("panda")
    assert r.point_sampling["dense_links"] == ["panda_hand", "panda_leftfinger", "panda_rightfinger"]
    assert r.point_sampling["dense_fraction"] == 0.5
    counts = torch.bincount(r.point_link, minlength=r.num_links).numpy()
    areas = np.array([r._surfaces[n].area for n in r.link_names])
    dense = np.isin(np.arange(r.num_links), [r.link_index(n) for n in ("panda_hand", "panda_leftfinger", "panda_rightfinger")])
    expected = np.where(dense, 0.5 * areas / areas[dense].sum(), 0.5 * areas / areas[~dense].sum()) * r.num_points
    assert np.abs(counts - expected).max() < 4 * np.sqrt(expected.max()) + 1
    fingers = ("panda_leftfinger", "panda_rightfinger")
    idx = torch.tensor([r.link_index(n) for n in fingers])
    f = load_robot("panda", num_points=2000, dense_links=fingers, dense_fraction=0.3)
    assert abs(torch.isin(f.point_link, idx).sum().item() - 600) < 4 * np.sqrt(2000 * 0.3 * 0.7)  # binomial
    area = load_robot("panda", num_points=2000, dense_links=(), dense_fraction=0.0)
    assert torch.isin(area.point_link, idx).sum().item() < 60  # by area: few
    assert area.point_sampling["dense_links"] == [] and area.point_sampling["dense_fraction"] == 0.0
    with pytest.raises(KinematicsError, match="panda_toe.*dense_links"):
        load_robot("panda", dense_links=("panda_toe",))
    with pytest.raises(KinematicsError, match="dense_fraction"):
        load_robot("panda", dense_fraction=1.0)
    with pytest.raises(KinematicsError, match="dense_fraction 0.3 given without dense_links"):
        load_robot("panda", dense_links=(), dense_fraction=0.3)


def test_normals_unit_and_outward(panda):
    n = panda.normals_local
    torch.testing.assert_close(n.norm(dim=-1), torch.ones(len(n), dtype=n.dtype))
    # Sphere points (link1 has one at z = -0.04 in its frame) are handled by the generic
    # check: rotated normals stay unit at any configuration.
    q = random_q(panda, 3, seed=1)
    torch.testing.assert_close(panda.surface_normals(q).norm(dim=-1), torch.ones(3, panda.num_points, dtype=n.dtype))


@pytest.mark.parametrize("robot", ["panda", "bimanual", "pb_kuka"])
def test_rigid_links_keep_pairwise_distances(robot, request):
    model: RobotModel = request.getfixturevalue(robot)
    q = random_q(model, 6, seed=2)
    pts = model.surface_points(q)  # (6, M, 3)
    for link in torch.unique(model.point_link).tolist():
        sel = model.point_link == link
        local = model.points_local[sel]
        d_ref = torch.cdist(local, local, compute_mode="donot_use_mm_for_euclid_dist")
        d = torch.cdist(pts[:, sel], pts[:, sel], compute_mode="donot_use_mm_for_euclid_dist")
        torch.testing.assert_close(d, d_ref.expand_as(d), rtol=0, atol=1e-12)


def test_points_are_link_poses_applied(panda):
    q = random_q(panda, 4, seed=3)
    T = panda.link_poses(q)[:, panda.point_link]  # (4, M, 4, 4)
    ref = (T[..., :3, :3] @ panda.points_local[..., None]).squeeze(-1) + T[..., :3, 3]
    torch.testing.assert_close(panda.surface_points(q), ref, rtol=0, atol=1e-12)


def test_point_flow(panda):
    q_traj = random_q(panda, 2 * 11, seed=4).reshape(2, 11, panda.num_joints)
    flow = panda.point_flow(q_traj)
    assert flow.shape == (2, 11, panda.num_points, 3)
    # Same points, same order; equal up to GEMM rounding (blocking depends on the batch size).
    torch.testing.assert_close(flow[:, 0], panda.surface_points(q_traj[:, 0]), rtol=0, atol=1e-12)
    torch.testing.assert_close(flow[1, 7], panda.surface_points(q_traj[1, 7]), rtol=0, atol=1e-12)
    # The strided layout runs the GEMMs on other storage: equal up to rounding (exact on some
    # CPUs, 1e-16 apart on others).
    torch.testing.assert_close(panda.point_flow(q_traj, contiguous=False), flow, rtol=0, atol=1e-12)
    f32 = panda.point_flow(q_traj.float())
    assert f32.dtype == torch.float32
    torch.testing.assert_close(f32.double(), flow, rtol=0, atol=1e-5)


def test_gripper_features(panda, bimanual, pb_panda):
    # Without a YAML, a prismatic joint that another joint mimics is taken as a gripper.
    assert pb_panda.gripper_joint_names == ("panda_finger_joint1",)
    q = panda.default_q.clone()
    q[panda.joint_index("panda_finger_joint1")] = 0.01
    assert panda.gripper_opening(q).tolist() == pytest.approx([0.25])
    torch.testing.assert_close(panda.point_gripper_opening(q), torch.full((panda.num_points,), 0.25, dtype=q.dtype))
    qb = bimanual.default_q.clone()
    qb[bimanual.joint_index("left_finger_joint1")] = 0.0
    qb[bimanual.joint_index("right_finger_joint1")] = 0.04
    feat = bimanual.point_gripper_opening(qb)
    left = bimanual.point_link == bimanual.link_index("left_link3")
    right = bimanual.point_link == bimanual.link_index("right_hand")
    base = bimanual.point_link == bimanual.link_index("base")
    assert torch.all(feat[left] == 0) and torch.all(feat[right] == 1) and torch.all(feat[base] == 0.5)


def test_fingers_follow_mimic(panda):
    q = panda.default_q.clone()
    T = panda.link_poses(q)
    gap = (T[panda.link_index("panda_leftfinger"), :3, 3] - T[panda.link_index("panda_rightfinger"), :3, 3]).norm()
    assert float(gap) == pytest.approx(0.08, abs=1e-12)  # both fingers open 0.04 m


def test_pybullet_panda_visual_meshes():
    # The visual meshes of pybullet_data's Panda: OBJ with materials, package://meshes/... paths.
    model = RobotModel.from_urdf(pybullet_urdf("franka_panda/panda.urdf"), num_points=200, seed=0)
    counts = torch.bincount(model.point_link, minlength=model.num_links)
    assert counts[model.link_index("panda_link3")] > 0 and counts.sum() == 200


@pytest.mark.parametrize("fmt", ["stl", "obj", "dae"])
def test_mesh_formats_and_paths(tmp_path, fmt):
    trimesh = pytest.importorskip("trimesh")
    pkg = tmp_path / "my_pkg"
    (pkg / "meshes").mkdir(parents=True)
    (tmp_path / "urdf").mkdir()
    box = trimesh.creation.box(extents=(0.1, 0.2, 0.3))
    box.export(pkg / "meshes" / f"box.{fmt}")
    shutil.copy(pkg / "meshes" / f"box.{fmt}", tmp_path / "urdf" / f"rel.{fmt}")
    body = f"""
  <link name="base"><visual><geometry><mesh filename="package://my_pkg/meshes/box.{fmt}" scale="2 1 1"/></geometry></visual></link>
  <link name="tool"><visual><geometry><mesh filename="rel.{fmt}"/></geometry></visual></link>
  <link name="tip"><visual><geometry><mesh filename="file://{pkg}/meshes/box.{fmt}" scale="0.1 0.1 0.1"/></geometry></visual></link>
  <joint name="t" type="fixed"><parent link="tool"/><child link="tip"/><origin xyz="0 0 0.2"/></joint>
  <joint name="j" type="revolute"><parent link="base"/><child link="tool"/><origin xyz="0 0 0.5"/>
    <axis xyz="0 0 1"/><limit lower="-1" upper="1" velocity="1" effort="1"/></joint>"""
    # package:// resolved through an ancestor of the URDF's folder, and through package_dirs.
    model = RobotModel.from_urdf(write_urdf(tmp_path / "urdf", body), num_points=400, seed=0)
    model2 = RobotModel.from_urdf(write_urdf(tmp_path / "urdf", body), num_points=400, seed=0,
                                  package_dirs={"my_pkg": pkg})
    assert torch.equal(model.points_local, model2.points_local)
    base = model.points_local[model.point_link == model.link_index("base")]
    # The base box was scaled by 2 in x: its points reach |x| = 0.1, the tool's only 0.05.
    assert float(base[:, 0].abs().max()) == pytest.approx(0.1, abs=1e-6)  # STL stores float32
    tool = model.points_local[model.point_link == model.link_index("tool")]
    assert float(tool[:, 0].abs().max()) == pytest.approx(0.05, abs=1e-6)  # STL stores float32
    assert float(tool[:, 2].abs().max()) == pytest.approx(0.15, abs=1e-6)  # STL stores float32
