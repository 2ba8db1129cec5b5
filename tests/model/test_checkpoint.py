"""Checkpoints: save → load → identical predictions; bad files → one clear error."""

from __future__ import annotations

import json

import pytest
import torch
from model_helpers import micro_config, sphere_flow, synthetic_scene

from pointwm.model import CheckpointError, WorldModel
from pointwm.model.checkpoint import write_checkpoint


@pytest.fixture(scope="module")
def saved(tmp_path_factory, micro_model):
    path = tmp_path_factory.mktemp("ckpt") / "micro.safetensors"
    micro_model.set_normalization(torch.linspace(0.02, 0.05, 4))
    micro_model.save(path)
    return path


def test_save_load_identical_predictions(saved, micro_model):
    loaded = WorldModel.load(saved)
    assert loaded.config == micro_model.config and not loaded.training
    torch.testing.assert_close(loaded.flow_std, torch.linspace(0.02, 0.05, 4))
    scene, (flow, _) = synthetic_scene(200), sphere_flow(4)
    assert torch.equal(loaded.predict(scene, flow), micro_model.predict(scene, flow))
    assert not list(saved.parent.glob("*.tmp"))  # the temporary file was renamed


def test_truncated_checkpoint(saved, tmp_path):
    data = saved.read_bytes()
    for cut in (4, 200, len(data) - 100):
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=f"{bad.name}.*truncated"):
            WorldModel.load(bad)


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json!!!!!!}")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        WorldModel.load(bad)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        WorldModel.load(tmp_path / "missing.safetensors")
    other = tmp_path / "other.safetensors"
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(CheckpointError, match="not a pointwm world-model checkpoint"):
        WorldModel.load(other)


def test_mismatched_checkpoint(tmp_path, micro_model):
    wider = micro_config(channels=(16, 24, 48))
    path = tmp_path / "mismatch.safetensors"
    write_checkpoint(path, micro_model.state_dict(), wider.to_dict())
    with pytest.raises(CheckpointError, match="does not match its config.*wrong shapes"):
        WorldModel.load(path)
    cfg = micro_model.config.to_dict()
    cfg["hidden_size"] = 3
    write_checkpoint(path, micro_model.state_dict(), cfg)
    with pytest.raises(CheckpointError, match="unknown model config keys"):
        WorldModel.load(path)
    tensors = dict(micro_model.state_dict())
    tensors.pop("head.0.bias")
    write_checkpoint(path, tensors, micro_model.config.to_dict())
    with pytest.raises(CheckpointError, match=r"missing \['head.0.bias'\]"):
        WorldModel.load(path)
    assert json.loads(json.dumps(micro_model.config.to_dict()))  # the config is plain JSON


def test_checkpoint_records_the_robot_points_it_was_trained_with(tmp_path):
    # Robot points are part of the input: a checkpoint records how each training robot's
    # points were drawn, and check_robot names what differs when a robot is drawn otherwise.
    from kinematics import load_robot

    model = WorldModel(micro_config())
    dense = load_robot("panda", num_points=100)
    model.trained_robots = {"panda": dense.point_sampling}
    path = model.save(tmp_path / "m.safetensors")
    loaded = WorldModel.load(path)
    assert loaded.trained_robots == {"panda": dense.point_sampling}
    assert loaded.check_robot(load_robot("panda", num_points=300)) is None  # only M differs: fine
    msg = loaded.check_robot(load_robot("panda", num_points=100, dense_links=(), dense_fraction=0.0))
    assert msg is not None and "dense_links" in msg and "panda_leftfinger" in msg and "dense_fraction" in msg
    assert loaded.check_robot(load_robot("bimanual_panda")) is None  # never trained on: nothing to compare
    # a checkpoint without the record (older files) loads with an empty one and checks nothing
    WorldModel(micro_config()).save(tmp_path / "old.safetensors")
    old = WorldModel.load(tmp_path / "old.safetensors")
    assert old.trained_robots == {} and old.check_robot(dense) is None
