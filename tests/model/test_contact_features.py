"""Contact features (``ModelConfig.contact_features``): values against a brute-force loop,
and the model that uses them (symmetry, gradients, a zero start)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from model_helpers import micro_config, pushed_targets, sphere_flow, synthetic_scene

from pointwm import PointCloud
from pointwm.model import ModelConfig, RobotInput, WorldModel, flow_loss
from pointwm.model.features import CONTACT_FEATURES_PER_STEP, contact_features

T = 4


def _brute_force(xyz: np.ndarray, flow: np.ndarray, vs=50.0, scale=0.05, cap=0.15, close=0.02) -> np.ndarray:
    """The documented features, one point and one step at a time in float64."""
    steps = flow.shape[0]
    vel = np.gradient(flow, axis=0) if steps > 1 else np.zeros_like(flow)
    out = np.zeros((len(xyz), steps, 7))
    for n, x in enumerate(xyz):
        for t in range(steps):
            d = np.linalg.norm(flow[t] - x, axis=1)
            j = int(np.argmin(d))
            off = flow[t, j] - x
            out[n, t, :3] = off / max(1.0, d[j] / cap) / scale
            out[n, t, 3] = math.exp(-d[j] / close)
            out[n, t, 4:] = vel[t, j] * vs
    return out.reshape(len(xyz), -1)


def test_features_match_brute_force():
    g = np.random.default_rng(0)
    xyz = g.uniform(-0.3, 0.3, (80, 3))  # some points far (> 15 cm) from every robot point
    flow = np.cumsum(g.normal(0, 0.01, (T + 1, 25, 3)), axis=0) + g.uniform(-0.05, 0.05, (1, 25, 3))
    xyz[:20] = flow[2, :20] + g.normal(0, 0.005, (20, 3))  # and some close to it
    got = contact_features(torch.tensor(xyz, dtype=torch.float32), torch.tensor(flow, dtype=torch.float32))
    assert got.shape == (80, CONTACT_FEATURES_PER_STEP * (T + 1)) and got.dtype == torch.float32
    want = _brute_force(xyz, flow)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-4)
    off = want.reshape(80, T + 1, 7)[..., :3]
    assert np.linalg.norm(off, axis=-1).max() == pytest.approx(0.15 / 0.05, rel=1e-6)  # capped
    assert (want.reshape(80, T + 1, 7)[..., 3] > 0.5).any()  # and some points are close


def test_a_touching_point_sees_the_robot_arrive():
    """Hand-computed: a robot point sliding along x reaches a scene point at step 2."""
    flow = torch.tensor([[[-0.02 + 0.01 * t, 0.0, 0.0]] for t in range(T + 1)])  # (T+1, 1, 3)
    f = contact_features(torch.zeros(1, 3), flow).reshape(T + 1, 7)
    assert torch.allclose(f[:, 0], torch.tensor([-0.4, -0.2, 0.0, 0.2, 0.4]), atol=1e-6)
    assert f[2, 3] == 1.0 and f[0, 3] == pytest.approx(math.exp(-1.0))
    assert torch.allclose(f[:, 4], torch.full((T + 1,), 0.5), atol=1e-6)  # 1 cm/step * 50


def _contact_model(seed: int = 0) -> WorldModel:
    torch.manual_seed(seed)
    model = WorldModel(micro_config(contact_features=True)).eval()
    with torch.no_grad():  # leave the zero start, so that the branch matters in these tests
        model.contact_embed.net[-1].weight.normal_(0.0, 0.2)
        model.head[-1].weight.mul_(10.0)
    return model


def test_branch_changes_predictions_and_keeps_translation_invariance():
    model = _contact_model()
    scene = synthetic_scene(300)
    flow, _ = sphere_flow(T)
    out = model.predict(scene, flow)
    shift = torch.tensor([0.4, -0.3, 0.2])
    moved = model.predict(PointCloud(scene.xyz + shift, scene.color, scene.normals), flow + shift)
    assert torch.allclose(out, moved, atol=1e-5)
    plain = WorldModel(micro_config()).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("contact_embed.")})
    assert (out - plain.predict(scene, flow)).abs().max() > 1e-3


def test_candidates_match_single_predictions_with_contact_features():
    model = _contact_model(1)
    scene = synthetic_scene(200)
    flows = torch.stack([sphere_flow(T, direction=(0.01 * k, 0.0, 0.0))[0] for k in range(3)])
    batched = model.predict(scene, flows)
    for k in range(3):
        assert torch.allclose(batched[k], model.predict(scene, flows[k]), atol=1e-5)


def test_gradient_reaches_the_contact_branch():
    model = _contact_model().train()
    scene = synthetic_scene(200)
    flow, normals = sphere_flow(T)
    out = model([scene], [RobotInput(flow, normals)])
    pred, lv = out.split()[0]
    flow_loss(pred, lv, pushed_targets(scene, flow), model.flow_std).backward()
    for name, p in model.contact_embed.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_zero_start_equals_the_model_without_the_branch():
    torch.manual_seed(0)
    plain = WorldModel(micro_config()).eval()
    grown = WorldModel(replace(micro_config(), contact_features=True)).eval()
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("contact_embed.") for k in missing)
    scene = synthetic_scene(200)
    flow, _ = sphere_flow(T)
    assert torch.equal(grown.predict(scene, flow), plain.predict(scene, flow))


def test_config_key_round_trip_and_old_configs():
    cfg = replace(micro_config(), contact_features=True)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    old = micro_config().to_dict()
    del old["contact_features"]  # checkpoints written before the key existed
    assert ModelConfig.from_dict(old).contact_features is False
