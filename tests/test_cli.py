import json

import pytest

from pointwm.cli import COMMANDS, build_parser, main
from pointwm.paths import SAMPLE_CAPTURE


def test_every_subcommand_has_help(capsys):
    names = list(build_parser()._subparsers._group_actions[0].choices)
    assert len(names) == len(COMMANDS)  # one subcommand per module
    for name in names:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert f"usage: pointwm {name}" in out


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline(tmp_path, capsys):
    assert main(["-q", "demo", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cameras"] == ["front", "side"]
    assert 1000 < summary["num_points"] < 12000
    lo, hi = summary["bounds_m"]["min"], summary["bounds_m"]["max"]
    assert lo[0] >= 0 and hi[0] <= 0.7 and lo[2] >= -0.3  # inside the default workspace
    from PIL import Image

    with Image.open(tmp_path / "scene.png") as im:
        assert im.size[0] > 600 and im.size[1] > 300
    assert (tmp_path / "scene.ply").stat().st_size > 10 * summary["num_points"]
    # the planning stage: plan, bundle the viewer opens, pictures of the predicted outcome
    assert summary["goal_points"] > 10 and summary["plan"]["rollouts"] > 0
    # the tool starts just behind the red box (its back face at x = 0.36 m), so the plan pushes it:
    # the goal asks 5 cm along +x, and the shipped model predicts most of that
    import torch

    from kinematics import load_robot

    panda = load_robot("panda")
    q0 = torch.tensor(summary["start"]["joints"], dtype=torch.float64)
    tool = panda.link_poses(q0[None])[0, panda.link_names.index(panda.tool_link_names[0]), :3, 3]
    assert summary["start"]["mode"] == "behind" and 0.3 < float(tool[0]) < 0.355 and float(tool[2]) < 0.05
    assert summary["predicted"]["goal_points_mean_displacement_m"] > 0.03
    assert summary["predicted"]["goal_points_mean_distance_to_target_m"] < 0.035
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert len(plan["actions"]) == 10 and len(plan["actions"][0]) == 8
    with Image.open(tmp_path / "rollout.gif") as gif:
        assert gif.n_frames == 11
    from pointwm.viz import open_source

    assert open_source(tmp_path / "plan" / "flow.npz").pred_flow.shape == (10, summary["num_points"], 3)
    out = capsys.readouterr().out
    assert str(tmp_path / "scene.ply") in out and "pointwm viz" in out


def test_cloud_command(tmp_path, capsys):
    out = tmp_path / "c.ply"
    assert main(["-q", "cloud", str(SAMPLE_CAPTURE), "--out", str(out), "--voxel", "0.03", "--no-normals"]) == 0
    from pointwm.ply import read_ply

    cloud, _ = read_ply(out)
    assert cloud.normals is None and 500 < len(cloud) < 5000
    assert out.with_suffix(".png").is_file()


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["cloud", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no camera.json or capture.json inside" in err[0]
    assert main(["cloud", str(SAMPLE_CAPTURE), "--workspace", "5", "5", "5", "6", "6", "6",
                 "--out", str(tmp_path / "x.ply")]) == 2
    assert "no valid point inside the workspace" in capsys.readouterr().err


def test_domain_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path, monkeypatch, capsys):
    """A ``PointwmError`` (here an unknown planner, and a bad planner preset value) or an
    ``OSError`` prints one line naming the input, exit status 2; a ``TypeError`` from a bug is
    not swallowed."""
    from pointwm import cli
    from pointwm.commands import eval_plan
    from pointwm.errors import ConfigError, PointwmError

    assert cli.main(["eval-plan", "--planners", "nobody", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--planners: unknown ['nobody']" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("K: 0\n")
    assert cli.main(["eval-plan", "--planners", "mppi_zero", "--config", str(bad), "--out", str(tmp_path)]) == 2
    assert "PlannerConfig.K" in capsys.readouterr().err
    assert issubclass(ConfigError, PointwmError) and issubclass(ConfigError, ValueError)

    def bug(args):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(eval_plan, "run", bug)
    with pytest.raises(TypeError, match="unsupported operand"):
        cli.main(["eval-plan", "--out", str(tmp_path)])
