"""``pointwm plan`` end to end on the sample capture with an untrained tiny model."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
GOAL = "box:0.35,0.05,0.01,0.5,0.2,0.15+0.1,0,0"  # the red box, 10 cm along +x


def _parse(argv):
    from pointwm.commands import eval_plan, plan

    parser = argparse.ArgumentParser(prog="pointwm")
    sub = parser.add_subparsers(dest="command", required=True)
    plan.register(sub)
    eval_plan.register(sub)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from pointwm.model import WorldModel
    from pointwm.model.config import ModelConfig

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    WorldModel(ModelConfig.from_yaml(REPO / "configs/model/tiny.yaml")).save(path)
    return path


def test_plan_cli_end_to_end(tmp_path, checkpoint, capsys):
    out = tmp_path / "plan"
    args = _parse(["plan", "--capture", str(REPO / "assets/sample_capture"), "--robot", "panda",
                   "--joints", "panda_joint1=0.1", "--goal", GOAL, "--checkpoint", str(checkpoint),
                   "--out", str(out), "--voxel", "0.03", "-K", "2", "--iterations", "1", "--budget", "60"])
    assert args.func(args) == 0
    data = json.loads((out / "plan.json").read_text())
    assert len(data["actions"]) == 10 and len(data["actions"][0]) == 8
    assert set(data["cost_terms"]) >= {"goal", "table", "joint_limit", "smoothness", "size", "still"}
    assert data["q0"][0] == pytest.approx(0.1)
    assert data["prediction"] == "flow.npz"
    from pointwm.viz import load_prediction, open_source

    bundle = load_prediction(out / "flow.npz")  # the viewer's bundle format
    assert bundle.pred_flow.shape == (10, len(bundle.xyz), 3) and len(bundle.goal_idx) > 0
    assert bundle.goal_targets.shape == (len(bundle.goal_idx), 3)
    assert np.asarray(np.load(out / "flow.npz")["extra_actions"]).shape == (10, 8)
    assert open_source(out / "plan.json").pred_flow.shape == bundle.pred_flow.shape
    assert (out / "plan.png").stat().st_size > 1000
    assert "picture:" in capsys.readouterr().out


@pytest.mark.parametrize("extra, match", [
    (["--goal", "box:5,5,5,6,6,6+0.1,0,0"], "selects no points"),
    (["--goal", "box:0.35,0.05,0.01,0.5,0.2,0.15+3,0,0"], "outside the workspace"),
    (["--goal", "banana"], "SELECTION TARGET"),
    (["--joints", "0,0,0"], "expected 8 values"),
    (["--joints", "panda_joint4=1.5"], "q0 outside the joint limits"),
])
def test_plan_cli_bad_input(tmp_path, checkpoint, extra, match):
    argv = ["plan", "--capture", str(REPO / "assets/sample_capture"), "--goal", GOAL,
            "--checkpoint", str(checkpoint), "--out", str(tmp_path), "--voxel", "0.05", "-K", "1",
            "--iterations", "1"]
    argv += extra
    args = _parse(argv)
    with pytest.raises(ValueError, match=match):
        args.func(args)


@pytest.mark.slow
def test_eval_plan_with_an_ensemble_of_checkpoints(tmp_path, checkpoint):
    """Several --checkpoint paths plan against their ensemble; the run records them all and
    a rerun with another set is refused rather than mixed in."""
    import torch

    from pointwm.model import WorldModel
    from pointwm.model.config import ModelConfig

    torch.manual_seed(1)
    second = WorldModel(ModelConfig.from_yaml(REPO / "configs/model/tiny.yaml")).save(tmp_path / "b.safetensors")
    out = tmp_path / "out"
    argv = ["eval-plan", "--planners", "mppi_model", "--tasks", "1", "--max-replans", "1", "--no-progress",
            "--out", str(out), "--checkpoint", str(checkpoint), str(second)]
    args = _parse(argv)
    assert args.func(args) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["meta"]["checkpoint"] == [str(checkpoint), str(second)]
    assert summary["planners"]["mppi_model"]["tasks"] == 1
    assert len(json.loads((out / "settings.json").read_text())["checkpoint_sha256"]) == 2
    args = _parse(argv[:-1])  # the first checkpoint alone: other settings
    with pytest.raises(ValueError, match="other settings .*checkpoint_sha256"):
        args.func(args)
