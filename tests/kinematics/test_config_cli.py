"""Robot YAMLs, load_robot, and the ``pointwm robot`` subcommand."""

from __future__ import annotations

import argparse
import shutil

import pytest
import torch
from kin_helpers import MIXED_URDF, write_urdf

from kinematics import list_robots, load_robot
from pointwm.commands import robot as robot_cmd


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pointwm")
    robot_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_project_robots_listed_and_configured(panda, bimanual):
    assert {"panda", "bimanual_panda"} <= set(list_robots())
    assert panda.joint_names[-1] == "panda_finger_joint1" and panda.num_joints == 8
    assert panda.default_q[3] == pytest.approx(-2.356194)
    assert panda.velocity_limits[-1] == pytest.approx(0.1)
    assert torch.all(panda.lower <= panda.default_q) and torch.all(panda.default_q <= panda.upper)
    assert bimanual.gripper_joint_names == ("left_finger_joint1", "right_finger_joint1")


def test_new_robot_is_one_urdf_and_one_yaml(tmp_path, monkeypatch):
    (tmp_path / "robots").mkdir()
    write_urdf(tmp_path / "robots", MIXED_URDF, "arm.urdf")
    (tmp_path / "robots" / "my_arm.yaml").write_text(
        "name: my_arm\nurdf: arm.urdf\nnum_points: 64\nseed: 5\njoints: [j_pri, j_rev]\n"
        "default_q: {j_rev: 0.2, j_cont: 1.0}\nvelocity_limits: {j_rev: 3.0}\n"
    )
    monkeypatch.setenv("POINTWM_ROBOTS", str(tmp_path / "robots"))
    robot = load_robot("my_arm")
    assert robot.name == "my_arm" and robot.joint_names == ("j_pri", "j_rev") and robot.num_points == 64
    assert robot.velocity_limits.tolist() == [0.5, 3.0]
    same = load_robot(tmp_path / "robots" / "my_arm.yaml")
    assert torch.equal(same.points_local, robot.points_local)
    assert load_robot(tmp_path / "robots" / "arm.urdf", num_points=10).num_joints == 3


def test_cli_prints_joints_and_saves_picture(tmp_path, capsys):
    png = tmp_path / "panda.png"
    assert run_cli(["robot", "panda", "--png", str(png), "--joints", "panda_joint2=0.3"]) == 0
    out = capsys.readouterr().out
    assert "panda_joint4" in out and "-3.0718" in out and "0.3000" in out and str(png) in out
    assert png.stat().st_size > 10_000
    assert run_cli(["robot", "bimanual_panda", "--joints", *["0"] * 16]) == 0
    with pytest.raises(ValueError, match=r"--joints: expected shape \(\.\.\., 8\)"):
        run_cli(["robot", "panda", "--joints", "0", "0"])
    with pytest.raises(ValueError, match=r"unknown joint name 'elbow'"):
        run_cli(["robot", "panda", "--joints", "elbow=1"])


def test_cli_takes_a_urdf_path(tmp_path, capsys):
    path = write_urdf(tmp_path, MIXED_URDF)
    shutil.copy(path, tmp_path / "copy.urdf")
    assert run_cli(["robot", str(tmp_path / "copy.urdf"), "--num-points", "50"]) == 0
    assert "j_cont" in capsys.readouterr().out
