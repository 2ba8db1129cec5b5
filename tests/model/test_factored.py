"""The factored world model: candidates decoded alone equal candidates decoded together,
the interaction set (what can move), translation invariance, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch
from model_helpers import micro_config, sphere_flow, synthetic_scene

from pointwm import PointCloud
from pointwm.model import DecoderConfig, FactoredWorldModel, ModelConfig, WorldModel
from pointwm.model.interaction import interaction_sets, scene_objects


def factored_config(**kw) -> ModelConfig:
    base = micro_config(contact_features=True)
    dec = DecoderConfig(channels=16, num_heads=2, depth=2, patch_size=32)
    return ModelConfig(**{**base.__dict__, "architecture": "factored", "decoder": dec, **kw})


@pytest.fixture(scope="module")
def model() -> FactoredWorldModel:
    torch.manual_seed(0)
    m = WorldModel(factored_config()).eval()
    with torch.no_grad():  # a larger output than the near-zero initial head
        m.head[-1].weight.mul_(10.0)
    return m


def two_boxes(n: int = 400) -> PointCloud:
    """A table (z = 0, normals up) with two 5 cm boxes 20 cm apart, grid-sampled."""
    pts, normals = [], []
    for x in torch.arange(0.0, 0.6, 0.015):
        for y in torch.arange(0.0, 0.4, 0.015):
            pts.append((float(x), float(y), 0.0))
            normals.append((0.0, 0.0, 1.0))
    for cx in (0.15, 0.40):
        for x in torch.arange(0.0, 0.05, 0.012):
            for y in torch.arange(0.0, 0.05, 0.012):
                for z in torch.arange(0.012, 0.05, 0.012):
                    pts.append((cx + float(x), 0.15 + float(y), float(z)))
                    normals.append((1.0, 0.0, 0.0))
    xyz = torch.tensor(pts)
    return PointCloud(xyz, torch.rand(len(xyz), 3, generator=torch.Generator().manual_seed(0)), torch.tensor(normals))


def test_the_config_builds_the_factored_class_and_needs_contact_features():
    assert type(WorldModel(factored_config())) is FactoredWorldModel
    assert type(WorldModel(micro_config())) is WorldModel
    with pytest.raises(ValueError, match="contact_features"):
        factored_config(contact_features=False)
    with pytest.raises(ValueError, match="architecture"):
        factored_config(architecture="mixed")


def test_candidates_together_equal_candidates_alone(model):
    scene = two_boxes()
    flows = torch.stack([sphere_flow(4, start=(0.05 + 0.02 * k, 0.17, 0.03), direction=(0.03, 0.0, 0.0))[0]
                         for k in range(5)])
    flows[4] += torch.tensor([0.0, 0.0, 0.5])  # one candidate far above everything
    together, lv = model.predict(scene, flows, return_log_var=True)
    assert together.shape == (5, 4, len(scene), 3) and lv.shape == (5, 4, len(scene))
    for k in range(5):
        alone = model.predict(scene, flows[k])
        torch.testing.assert_close(together[k], alone, atol=1e-6, rtol=1e-5)
    assert together[0].abs().max() > 1e-4  # something moves near the sphere
    assert not together[4].any()  # the robot far from everything: nothing moves, exactly


def test_only_the_touched_object_and_its_neighbours_move(model):
    """A sphere sliding along the first box touches it alone: the second box and the table
    get exactly zero flow; the whole first box is decoded, its far side too."""
    scene = two_boxes()
    flow, _ = sphere_flow(4, start=(0.11, 0.17, 0.03), direction=(0.01, 0.0, 0.0))
    pred = model.predict(scene, flow)
    xyz = scene.xyz
    first = (xyz[:, 0] > 0.14) & (xyz[:, 0] < 0.21) & (xyz[:, 2] > 0.005)
    second = (xyz[:, 0] > 0.39) & (xyz[:, 2] > 0.005)
    table = xyz[:, 2] < 0.005
    moved = pred.abs().amax(dim=(0, 2)) > 0
    assert moved[first].all() and not moved[second].any() and not moved[table].any()


def test_interaction_sets_hand_cases():
    scene = two_boxes()
    objects = scene_objects(scene.xyz, scene.normals, link=0.0225, chain=0.02, support_band=0.01)
    assert objects.num_objects == 2 and int((objects.object_id < 0).sum()) == 40 * 27
    far = torch.tensor([[[[0.3, 0.3, 0.5]]]])  # (K=1, T+1=1, M=1, 3)
    near_first = torch.tensor([[[[0.13, 0.17, 0.03]]]])  # 2 cm from the first box
    beside_second = torch.tensor([[[[0.40, 0.22, 0.03]]]])  # 2 cm from the second box
    sets = interaction_sets(objects, torch.cat([far, near_first, beside_second]), reach=0.05)
    ids = objects.object_id
    a, b = int(ids[(scene.xyz[:, 0] > 0.14) & (scene.xyz[:, 0] < 0.2)].max()), int(ids[scene.xyz[:, 0] > 0.39].max())
    assert not sets[0].any()
    assert torch.equal(sets[1], ids == a) and torch.equal(sets[2], ids == b)
    # one hop: with the boxes within ``chain`` of each other, touching one moves both
    chained = scene_objects(scene.xyz, scene.normals, link=0.0225, chain=0.25, support_band=0.01)
    assert torch.equal(interaction_sets(chained, near_first, reach=0.05)[0], ids >= 0)


def test_translation_invariance(model):
    scene = two_boxes()
    flow, _ = sphere_flow(4, start=(0.11, 0.17, 0.03), direction=(0.01, 0.0, 0.0))
    shift = torch.tensor([0.7, -1.3, 0.0])  # along the table: the support stays the support
    a = model.predict(scene, flow)
    moved = PointCloud(scene.xyz + shift, scene.color, scene.normals)
    b = model.predict(moved, flow + shift)
    torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


def test_training_forward_packs_every_point_and_checkpoints_round_trip(model, tmp_path):
    scenes = [two_boxes(), synthetic_scene(200)]
    robots_flow = [sphere_flow(4, start=(0.11, 0.17, 0.03), direction=(0.01, 0.0, 0.0))[0],
                   sphere_flow(4, start=(0.2, 0.25, 0.03), direction=(0.01, 0.0, 0.0))[0]]
    from pointwm.model import RobotInput

    out = model([*scenes], [RobotInput(f) for f in robots_flow])
    assert out.flow.shape == (len(scenes[0]) + 200, 4, 3) and out.offset.tolist() == [len(scenes[0]), len(scenes[0]) + 200]
    path = model.save(tmp_path / "f.safetensors")
    again = WorldModel.load(path)
    assert type(again) is FactoredWorldModel and again.config == model.config
    torch.testing.assert_close(again.predict(scenes[0], robots_flow[0]), model.predict(scenes[0], robots_flow[0]))
    assert math.isfinite(float(out.flow.detach().sum()))
