"""WorldModel: shapes, symmetries, batch independence, gradients, input errors."""

from __future__ import annotations

import pytest
import torch
from model_helpers import micro_config, pushed_targets, sphere_flow, synthetic_scene

from pointwm import PointCloud
from pointwm.model import RobotInput, WorldModel, flow_loss, lift_to_full, prepare_scene

T = 4


def test_single_and_batched_shapes(micro_model):
    scene = synthetic_scene(300)
    flow, normals = sphere_flow(T)
    out = micro_model.predict(scene, flow)
    assert out.shape == (T, 300, 3) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.abs().max() > 0
    flows = torch.stack([sphere_flow(T, direction=(0.01 * k, 0.0, 0.0))[0] for k in range(3)])
    batched, log_var = micro_model.predict(scene, flows, robot_normals=normals,
                                           gripper=torch.ones(3, T + 1), return_log_var=True)
    assert batched.shape == (3, T, 300, 3) and log_var.shape == (3, T, 300)
    one, one_lv = micro_model.predict(scene, flows[1], robot_normals=normals,
                                      gripper=torch.ones(T + 1), return_log_var=True)
    assert one.shape == (T, 300, 3) and one_lv.shape == (T, 300)


def test_candidates_match_single_predictions(micro_model):
    """K candidates in one call (shared scene work, chunked) = K separate calls."""
    scene = synthetic_scene(250)
    flows = torch.stack([sphere_flow(T, direction=(0.0, 0.01 * k, 0.0))[0] for k in range(5)])
    batched = micro_model.predict(scene, flows)
    for k in range(5):
        torch.testing.assert_close(batched[k], micro_model.predict(scene, flows[k]), atol=1e-6, rtol=1e-5)
    assert (batched[0] - batched[4]).abs().max() > 1e-4  # the action matters


def test_translation_invariance(micro_model):
    scene = synthetic_scene(300, dtype=torch.float64)
    flow, normals = sphere_flow(T, dtype=torch.float64)
    v = torch.tensor([0.37, -1.21, 0.55], dtype=torch.float64)
    a = micro_model.predict(scene, flow, robot_normals=normals)
    b = micro_model.predict(PointCloud(scene.xyz + v, scene.color, scene.normals), flow + v,
                            robot_normals=normals)
    # Re-centring in float64 leaves ~1e-16 m differences before the float32 features; the
    # rest is float32 rounding (measured: 0 here; 3e-8 m with float32 inputs, outputs ~0.08 m).
    scale = a.abs().max()
    assert scale > 1e-3
    torch.testing.assert_close(b, a, atol=1e-5 * float(scale), rtol=0)


def test_scene_permutation_permutes_output(micro_model):
    scene = synthetic_scene(300)
    flow, _ = sphere_flow(T)
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(1))
    a = micro_model.predict(scene, flow)
    b = micro_model.predict(scene.select(perm), flow)
    torch.testing.assert_close(b, a[:, perm], atol=1e-5 * float(a.abs().max()), rtol=0)


def test_batch_independence(micro_model):
    """A sample's prediction does not depend on the other samples packed with it."""
    s1, s2, s3 = synthetic_scene(300, seed=1), synthetic_scene(120, seed=2), synthetic_scene(500, seed=3)
    r1 = RobotInput(sphere_flow(T)[0])
    r2 = RobotInput(sphere_flow(T, m=16, start=(0.3, 0.1, 0.05))[0], robot_type=1)
    r3 = RobotInput(sphere_flow(T, m=48, direction=(0.0, 0.02, 0.01))[0])
    with torch.no_grad():
        alone = micro_model([s1], [r1]).split()[0]
        packed = micro_model([s2, s1, s3], [r2, r1, r3]).split()
    assert [p[0].shape[1] for p in packed] == [120, 300, 500]
    torch.testing.assert_close(packed[1][0], alone[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[1][1], alone[1], atol=1e-5, rtol=1e-4)


def test_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    model = WorldModel(micro_config()).train()
    scene = synthetic_scene(200)
    flow, normals = sphere_flow(T)
    out = model([scene, synthetic_scene(150, seed=4)],
                [RobotInput(flow, normals, torch.ones(T + 1)), RobotInput(flow, robot_type=1)])
    loss = 0.0
    for (pred, lv), sc in zip(out.split(), [scene, synthetic_scene(150, seed=4)], strict=True):
        target = pushed_targets(sc, flow)
        loss = loss + flow_loss(pred, lv, target, model.flow_std)
    loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert not dead, f"no gradient reaches {dead}"


def test_large_scene_is_voxelised_and_lifted_back():
    torch.manual_seed(0)
    model = WorldModel(micro_config(max_scene_points=200)).eval()
    scene = synthetic_scene(1500)
    reduced, inverse = prepare_scene(scene, 0.015, 200)
    assert len(reduced) <= 200 and inverse.shape == (1500,) and int(inverse.max()) == len(reduced) - 1
    flow, _ = sphere_flow(T)
    out = model.predict(scene, flow)
    assert out.shape == (T, 1500, 3)
    torch.testing.assert_close(out, lift_to_full(model.predict(reduced, flow), inverse))
    same = inverse == inverse[0]
    assert torch.equal(out[:, same], out[:, :1].expand(-1, int(same.sum()), -1))


def test_several_tokens_in_one_voxel(micro_model):
    """A static robot puts T+1 tokens in every robot voxel, some on scene voxels: defined."""
    scene = synthetic_scene(200)
    flow = sphere_flow(T, direction=(0.0, 0.0, 0.0), start=(0.2, 0.2, 0.0))[0]
    out = micro_model.predict(scene, flow)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("flow", "match"),
    [
        (torch.zeros(5, 8), "robot_flow: expected"),
        (torch.zeros(3, 8, 3), "needs 5 steps"),
        (torch.full((5, 8, 3), float("nan")), "robot_flow: contains NaN"),
        (torch.zeros(5, 8, 3, dtype=torch.long), "robot_flow: expected a floating-point"),
    ],
)
def test_bad_robot_flow_is_named(micro_model, flow, match):
    with pytest.raises((ValueError, TypeError), match=match):
        micro_model.predict(synthetic_scene(50), flow)


def test_bad_scene_and_extras_are_named(micro_model):
    flow, _ = sphere_flow(T)
    with pytest.raises(TypeError, match="scene: expected a pointwm.PointCloud"):
        micro_model.predict(torch.zeros(10, 3), flow)
    with pytest.raises(ValueError, match="robot_normals"):
        micro_model.predict(synthetic_scene(50), flow, robot_normals=torch.zeros(7, 3))
    with pytest.raises(ValueError, match="robot_type"):
        micro_model.predict(synthetic_scene(50), flow, robot_type=99)
    far = PointCloud(torch.tensor([[0.0, 0.0, 0.0], [500.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="serialization_depth"):
        micro_model.predict(far, flow)


def test_candidates_with_different_start_poses(micro_model):
    """Candidates whose t0 robot points differ are re-centred one by one: same results."""
    scene = synthetic_scene(200)
    flows = torch.stack([sphere_flow(T, start=(0.1 + 0.05 * k, 0.25, 0.04))[0] for k in range(3)])
    batched = micro_model.predict(scene, flows)
    for k in range(3):
        torch.testing.assert_close(batched[k], micro_model.predict(scene, flows[k]), atol=1e-6, rtol=1e-5)


def test_public_import():
    from pointwm import WorldModel as Top

    assert Top is WorldModel
