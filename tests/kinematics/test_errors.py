"""Bad input: one clear KinematicsError (a ValueError) naming the input, never a deep trace."""

from __future__ import annotations

import pytest
import torch
from kin_helpers import MIXED_URDF, write_urdf

from kinematics import KinematicsError, RobotModel, load_robot, load_robot_config

LINK = '<link name="{0}"><visual><geometry><box size="0.1 0.1 0.1"/></geometry></visual></link>'


def joint(name, parent, child, kind="revolute"):
    limit = '<limit lower="-1" upper="1" velocity="1" effort="1"/>' if kind != "fixed" else ""
    return (f'<joint name="{name}" type="{kind}"><parent link="{parent}"/><child link="{child}"/>'
            f'<axis xyz="0 0 1"/>{limit}</joint>')


def test_is_a_value_error():
    assert issubclass(KinematicsError, ValueError)


def test_malformed_xml(tmp_path):
    path = tmp_path / "broken.urdf"
    path.write_text('<robot name="x"><link name="a"></robot>')
    with pytest.raises(KinematicsError, match=r"broken\.urdf.*malformed XML"):
        RobotModel.from_urdf(path)


def test_missing_urdf_file(tmp_path):
    with pytest.raises(KinematicsError, match=r"nope\.urdf.*not found"):
        RobotModel.from_urdf(tmp_path / "nope.urdf")


def test_missing_mesh(tmp_path):
    body = ('<link name="base"><visual><geometry><mesh filename="package://pkg/meshes/gone.stl"/>'
            '</geometry></visual></link>')
    with pytest.raises(KinematicsError, match=r"link 'base'.*gone\.stl.*not found"):
        RobotModel.from_urdf(write_urdf(tmp_path, body))


def test_unreadable_mesh(tmp_path):
    (tmp_path / "junk.stl").write_bytes(b"\x00\x01 not a mesh")
    body = '<link name="base"><visual><geometry><mesh filename="junk.stl"/></geometry></visual></link>'
    with pytest.raises(KinematicsError, match=r"link 'base'.*junk\.stl"):
        RobotModel.from_urdf(write_urdf(tmp_path, body))


def test_two_roots(tmp_path):
    body = "\n".join([LINK.format("a"), LINK.format("b"), LINK.format("c"), joint("j", "a", "b")])
    with pytest.raises(KinematicsError, match=r"2 root links \['a', 'c'\]"):
        RobotModel.from_urdf(write_urdf(tmp_path, body))


def test_loop(tmp_path):
    body = "\n".join([LINK.format(n) for n in "abc"] + [
        joint("j1", "a", "b"), joint("j2", "b", "c"), joint("j3", "c", "b")])
    with pytest.raises(KinematicsError, match=r"link 'b' is the child of two joints.*loop"):
        RobotModel.from_urdf(write_urdf(tmp_path, body))


def test_cycle_without_root(tmp_path):
    body = "\n".join([LINK.format(n) for n in "ab"] + [joint("j1", "a", "b"), joint("j2", "b", "a")])
    with pytest.raises(KinematicsError, match=r"no root link.*loop"):
        RobotModel.from_urdf(write_urdf(tmp_path, body))


def test_joint_naming_unknown_link(tmp_path):
    body = "\n".join([LINK.format("a"), joint("j", "a", "ghost")])
    with pytest.raises(KinematicsError, match=r"joint 'j' names unknown child link 'ghost'"):
        RobotModel.from_urdf(write_urdf(tmp_path, body))


def test_unsupported_joint_type(tmp_path):
    body = "\n".join([LINK.format("a"), LINK.format("b"), joint("j", "a", "b", kind="floating")])
    with pytest.raises(KinematicsError, match=r"joint 'j'.*'floating' is not supported"):
        RobotModel.from_urdf(write_urdf(tmp_path, body))


def test_wrong_length_joint_vector(panda):
    with pytest.raises(KinematicsError, match=r"q: expected shape \(\.\.\., 8\).*got shape \(7,\)"):
        panda.link_poses(torch.zeros(7))
    with pytest.raises(KinematicsError, match=r"q_traj: expected shape"):
        panda.point_flow(torch.zeros(8))
    with pytest.raises(KinematicsError, match=r"got shape \(\)"):
        panda.surface_points(torch.tensor(0.0))


def test_nan_joints(panda):
    q = panda.default_q.clone()
    q[3] = float("nan")
    with pytest.raises(KinematicsError, match=r"NaN or inf for joints \['panda_joint4'\]"):
        panda.surface_points(q)
    with pytest.raises(KinematicsError, match=r"q_traj: contains NaN"):
        panda.point_flow(q.expand(11, -1))


def test_non_float_joints(panda):
    with pytest.raises(TypeError, match=r"q: expected floating-point"):
        panda.link_poses(torch.zeros(8, dtype=torch.long))
    with pytest.raises(TypeError, match=r"q: expected a torch.Tensor"):
        panda.link_poses("0 0 0")


def test_unknown_joint_name(tmp_path, panda):
    with pytest.raises(KinematicsError, match=r"unknown joint name 'elbow'.*panda_joint1"):
        panda.q_from_dict({"elbow": 0.3})
    with pytest.raises(KinematicsError, match=r"unknown link name 'tool0'"):
        panda.link_index("tool0")
    path = write_urdf(tmp_path, MIXED_URDF)
    with pytest.raises(KinematicsError, match=r"unknown joint name 'j_nope' in joints"):
        RobotModel.from_urdf(path, joints=["j_rev", "j_nope"])
    with pytest.raises(KinematicsError, match=r"'j_mimic' in joints is a mimic of 'j_rev'"):
        RobotModel.from_urdf(path, joints=["j_mimic"])
    with pytest.raises(KinematicsError, match=r"unknown joint name 'x' in default_q"):
        RobotModel.from_urdf(path, default_q={"x": 0.0})


def test_bad_robot_configs(tmp_path):
    with pytest.raises(KinematicsError, match=r"unknown robot 'no_such_robot'"):
        load_robot("no_such_robot")
    cfg = tmp_path / "r.yaml"
    cfg.write_text("urdf: missing.urdf\n")
    with pytest.raises(KinematicsError, match=r"r\.yaml.*urdf 'missing\.urdf' not found"):
        load_robot_config(cfg)
    write_urdf(tmp_path, MIXED_URDF)
    cfg.write_text("urdf: robot.urdf\njionts: [j_rev]\n")
    with pytest.raises(KinematicsError, match=r"r\.yaml.*unknown keys \['jionts'\]"):
        load_robot_config(cfg)
    cfg.write_text("urdf: robot.urdf\ndefault_q: {j_rev: 0.1, typo: 1}\n")
    with pytest.raises(KinematicsError, match=r"r\.yaml.*unknown joint name 'typo' in default_q"):
        load_robot(cfg)
    cfg.write_text("urdf: [unclosed\n")
    with pytest.raises(KinematicsError, match=r"r\.yaml.*malformed YAML"):
        load_robot_config(cfg)


def test_bad_num_points(tmp_path):
    with pytest.raises(KinematicsError, match=r"num_points: expected a positive integer"):
        RobotModel.from_urdf(write_urdf(tmp_path, MIXED_URDF), num_points=0)
