"""A tiny model overfits one clip: the training loss drops 100x within 400 steps."""

from __future__ import annotations

import torch
from model_helpers import micro_config, pushed_targets, sphere_flow, synthetic_scene

from pointwm.model import RobotInput, WorldModel, flow_loss


def test_tiny_model_overfits_one_clip():
    torch.manual_seed(0)
    model = WorldModel(micro_config(num_steps=4)).train()
    scene = synthetic_scene(200)
    flow, normals = sphere_flow(4, m=24, start=(0.15, 0.25, 0.03), direction=(0.02, 0.0, 0.0))
    target = pushed_targets(scene, flow, reach=0.06)  # (T, N, 3), a third of the points move
    robot = RobotInput(flow, normals, torch.ones(5))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(400):
        pred, _ = model([scene], [robot]).split()[0]
        # Constant sigma^2 (as for simulation data): the loss is then >= 0 and can drop 100x.
        loss = flow_loss(pred, None, target, model.flow_std, fixed_log_var=0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if losses[-1] < losses[0] / 100:
            break
    assert losses[-1] < losses[0] / 100, f"loss {losses[0]:.3g} -> {losses[-1]:.3g} in {len(losses)} steps"
    model.eval()
    with torch.no_grad():
        err = (model.predict(scene, flow, normals, torch.ones(5)) - target).norm(dim=-1)
    moved = target.norm(dim=-1) > 0.005
    assert err[moved].mean() < 0.2 * target.norm(dim=-1)[moved].mean()
