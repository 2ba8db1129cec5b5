"""Model ensembles: the mean of the members' predictions, one horizon, clear errors."""

from __future__ import annotations

import pytest
import torch
from model_helpers import micro_config, sphere_flow, synthetic_scene

from pointwm.model import CheckpointError, WorldModel
from pointwm.model.ensemble import ModelEnsemble, load_models


def _member(seed: int, num_steps: int = 4) -> WorldModel:
    torch.manual_seed(seed)
    model = WorldModel(micro_config(num_steps=num_steps)).eval()
    with torch.no_grad():
        model.head[-1].weight.mul_(10.0)
    return model


@pytest.fixture(scope="module")
def members():
    return [_member(0), _member(1)]


def test_predicts_the_mean_of_its_members(members):
    ens = ModelEnsemble(members)
    scene, (flow, _) = synthetic_scene(200), sphere_flow(4)
    K = torch.stack([flow, flow + 0.01])  # two candidates
    each = [m.predict(scene, K) for m in members]
    assert not torch.allclose(each[0], each[1])  # the members differ, so the mean is a real check
    torch.testing.assert_close(ens.predict(scene, K), (each[0] + each[1]) / 2)
    assert ens.config.num_steps == 4 and ens.device == members[0].device


def test_rejects_mixed_horizons_and_single_members(members):
    with pytest.raises(ValueError, match="different numbers of steps"):
        ModelEnsemble([members[0], _member(2, num_steps=3)])
    with pytest.raises(ValueError, match="at least 2"):
        ModelEnsemble(members[:1])
    with pytest.raises(ValueError, match="return_log_var"):
        ModelEnsemble(members).predict(synthetic_scene(50), sphere_flow(4)[0], return_log_var=True)


def test_load_models(members, tmp_path):
    paths = [members[0].save(tmp_path / "a.safetensors"), members[1].save(tmp_path / "b.safetensors")]
    assert isinstance(load_models(paths[:1]), WorldModel)
    ens = load_models(paths)
    assert isinstance(ens, ModelEnsemble) and len(ens.models) == 2
    _member(3, num_steps=3).save(tmp_path / "c.safetensors")
    with pytest.raises(CheckpointError, match="c.safetensors.*different numbers of steps"):
        load_models([paths[0], tmp_path / "c.safetensors"])
