"""The prediction bundle and ``open_source``: every accepted input, and clear errors for the rest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from viz_helpers import make_scene, run_cli

from pointwm.geometry import PointCloud
from pointwm.viz import (
    FlowScene,
    VizInputError,
    load_prediction,
    open_source,
    render_flow_png,
    save_prediction,
)

TESTS = Path(__file__).resolve().parents[1]


def test_bundle_round_trip(bundle, scene):
    got = load_prediction(bundle)
    for key in ("xyz", "color", "robot_flow", "pred_flow", "gt_flow", "goal_targets"):
        np.testing.assert_array_equal(getattr(got, key), getattr(scene, key), err_msg=key)
    np.testing.assert_array_equal(got.goal_idx, scene.goal_idx)
    assert got.meta == {"cost": 0.5}
    assert got.num_steps == 4 and got.num_points == 400
    with np.load(bundle) as z:  # the documented keys, no pickles
        assert {"format", "version", "scene_xyz", "scene_color", "robot_flow", "pred_flow", "gt_flow",
                "goal_idx", "goal_targets", "meta"} == set(z.files)
        assert str(z["format"]) == "pointwm-prediction"


def test_save_prediction_accepts_pointcloud_and_tensors(tmp_path):
    cloud = PointCloud(torch.rand(10, 3), color=torch.rand(10, 3))
    path = save_prediction(tmp_path / "p.npz", cloud, torch.zeros(3, 5, 3), torch.zeros(2, 10, 3))
    got = load_prediction(path)
    np.testing.assert_allclose(got.color, cloud.color.numpy())
    assert got.gt_flow is None and got.goal_idx is None
    assert not list(tmp_path.glob(".p.npz*"))  # no temporary left behind


@pytest.mark.parametrize("kwargs, match", [
    ({"pred_flow": np.zeros((2, 9, 3))}, r"pred_flow must be \(T, 10, 3\)"),
    ({"robot_flow": np.zeros((5, 4, 3))}, r"robot_flow has 5 steps, expected T\+1 = 3"),
    ({"goal_idx": [20], "goal_targets": [[0, 0, 0]]}, r"goal_idx must lie in \[0, 10\)"),
    ({"goal_targets": [[0, 0, 0]]}, "goal_targets need goal_idx"),
    ({"goal_idx": [1, 2], "goal_targets": [[0, 0, 0]]}, r"goal_targets must be \(2, 3\)"),
    ({"pred_flow": np.full((2, 10, 3), np.nan)}, "non-finite"),
])
def test_save_prediction_rejects_bad_shapes(tmp_path, kwargs, match):
    args = {"robot_flow": np.zeros((3, 4, 3)), "pred_flow": np.zeros((2, 10, 3))} | kwargs
    with pytest.raises(VizInputError, match=match):
        save_prediction(tmp_path / "p.npz", np.zeros((10, 3)), **args)
    assert not (tmp_path / "p.npz").exists()


def test_plan_json_opens_its_bundle(tmp_path, bundle):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"prediction": bundle.name, "cost": 1.25, "actions": [[0.0] * 7] * 4}))
    fs = open_source(plan)
    np.testing.assert_array_equal(fs.pred_flow, load_prediction(bundle).pred_flow)
    assert fs.meta["plan_cost"] == 1.25 and fs.meta["plan"] == str(plan)
    # Without the key, a bundle with the same stem beside it is used.
    other = tmp_path / "pred.json"
    other.write_text("{}")
    assert open_source(other).num_points == fs.num_points


def test_planner_flow_npz_beside_plan_json(tmp_path, scene):
    """``pointwm plan`` writes plan.json + flow.npz (xyz, flow, robot_flow, goal_mask, actions)."""
    mask = np.zeros(scene.num_points, bool)
    mask[[3, 5]] = True
    np.savez_compressed(tmp_path / "flow.npz", xyz=scene.xyz, flow=scene.pred_flow, robot_flow=scene.robot_flow,
                        goal_mask=mask, actions=np.zeros((4, 8)))
    (tmp_path / "plan.json").write_text(json.dumps({"cost": 0.1, "goal": "push"}))
    fs = open_source(tmp_path / "plan.json")
    np.testing.assert_array_equal(fs.pred_flow, scene.pred_flow)
    assert fs.goal_idx.tolist() == [3, 5] and fs.goal_targets is None and fs.meta["cost"] == 0.1
    render_flow_png(fs, tmp_path / "plan.png", dpi=40)  # goal points without targets draw


def test_extra_arrays_are_kept(tmp_path, scene):
    path = save_prediction(tmp_path / "p.npz", scene.xyz, scene.robot_flow, scene.pred_flow,
                           extra={"actions": np.ones((4, 8))})
    with np.load(path) as z:
        np.testing.assert_array_equal(z["extra_actions"], np.ones((4, 8)))
    assert load_prediction(path).num_steps == 4


def test_capture_directory(tmp_path):
    fs = open_source(TESTS.parent / "assets" / "sample_capture")
    assert fs.num_points > 1000 and fs.pred_flow is None and fs.robot_flow.shape[1] == 0
    assert fs.num_steps == 0


def test_archive_clip_by_key_and_index(tmp_path):
    sys.path.insert(0, str(TESTS / "data"))
    from data_helpers import make_clip

    from pointwm.data.archive import write_archive

    clips = [make_clip(f"c{i}", seed=i) for i in range(3)]
    write_archive(tmp_path / "arch", clips, clips_per_shard=2)
    by_key = open_source(f"{tmp_path / 'arch'}#c2")
    by_index = open_source(tmp_path / "arch", clip=2)
    np.testing.assert_array_equal(by_key.gt_flow, clips[2].flow)
    np.testing.assert_array_equal(by_index.xyz, clips[2].xyz)
    assert by_key.robot_flow.shape[0] == clips[2].num_steps + 1 and by_key.robot_flow.shape[1] > 0
    with pytest.raises(VizInputError, match="out of range"):
        open_source(tmp_path / "arch", clip=7)
    with pytest.raises(VizInputError, match="no clip 'nope'"):
        open_source(f"{tmp_path / 'arch'}#nope")


@pytest.mark.parametrize("name, content, match", [
    ("notes.txt", b"hello", r"unsupported file type '\.txt'.*capture directory"),
    ("data.npz", None, r"format is None, expected a 'pointwm-prediction' bundle"),
    ("broken.npz", b"not a zip", "not a readable .npz prediction bundle"),
    ("other.json", b'{"a": 1}', "names no prediction bundle"),
    ("bad.json", b"{", "unreadable JSON"),
])
def test_bad_inputs_name_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    if content is None:
        np.savez(path, x=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(VizInputError, match=match) as e:
        open_source(path)
    assert str(path) in str(e.value)


def test_plain_directory_and_missing_path(tmp_path):
    with pytest.raises(VizInputError, match="neither a capture nor an archive"):
        open_source(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_source(tmp_path / "missing")


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert run_cli(["viz", str(path), "--static-only"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pointwm viz: error:") and str(path) in err[0]


def test_flow_scene_positions():
    fs = make_scene(N=8, T=2)
    np.testing.assert_array_equal(fs.positions(0), fs.xyz)
    np.testing.assert_allclose(fs.positions(2, "gt"), fs.xyz + fs.gt_flow[1])
    assert isinstance(FlowScene.build(np.zeros((3, 3))), FlowScene)
