"""SimWorld and the simulator-as-dynamics oracle (MuJoCo, headless)."""

import numpy as np
import pytest
import torch

from planning import Rollout
from pointwm.sim import SimDynamics, SimWorld, WorldConfig, sample_scene
from pointwm.tasks.push import PushConfig, PushEnv, make_task


@pytest.fixture(scope="module")
def env(panda):
    return PushEnv(make_task(3, PushConfig(), panda), panda, PushConfig(), T=4, dt=0.1)


def test_sim_dynamics_still_robot_gives_zero_flow_and_restores_the_state(env):
    cloud, seg = env.observe(np.random.default_rng(0))
    assert (seg == env.task.obj + 1).any()
    q = torch.from_numpy(np.repeat(env.q[None, None], 5, axis=1))  # (1, 5, J): hold still
    before, snap_q = env.object_xy(), env.q.copy()
    flow = SimDynamics(env.world, seg)(cloud, Rollout(q.float(), torch.zeros(1, 5, 3, 3)))
    assert flow.shape == (1, 4, len(cloud.xyz), 3) and float(flow.abs().max()) < 2e-3
    np.testing.assert_allclose(env.object_xy(), before)  # the oracle restores the state
    np.testing.assert_array_equal(env.q, snap_q)


def test_sim_dynamics_moves_object_points_rigidly_with_their_body(env, panda):
    """A candidate that pushes the tool 10 cm through the object moves its points; each
    point's displacement is that of a rigid motion (distances between points kept), and the
    flow equals what executing the same path in the world does to the object's pose."""
    cloud, seg = env.observe(np.random.default_rng(0))
    way = np.r_[np.asarray(env.task.target_xy) - env.object_xy(), 0.0]
    way = 0.10 * way / np.linalg.norm(way)
    from pointwm.eval.push_calibration import straight_path

    path = straight_path(panda, env.q, way, 4)
    q = torch.from_numpy(np.concatenate([env.q[None], path]))[None]
    flow = SimDynamics(env.world, seg)(cloud, Rollout(q, panda.point_flow(q).float()))[0]  # (4, N, 3)
    obj = torch.from_numpy(seg == env.task.obj + 1)
    moved = (cloud.xyz[obj] + flow[-1, obj]).double()
    assert float(flow[-1, obj].norm(dim=-1).mean()) > 0.01  # the object was pushed
    d0, d1 = torch.cdist(cloud.xyz[obj].double(), cloud.xyz[obj].double()), torch.cdist(moved, moved)
    assert float((d0 - d1).abs().max()) < 1e-4  # rigid
    snap = env.world.snapshot()
    X = env.world.execute(path, record=True)  # (5, K, 4, 4)
    env.world.restore(snap)
    rel = X[-1, env.task.obj] @ np.linalg.inv(X[0, env.task.obj])
    p = cloud.xyz[obj].double().numpy()
    np.testing.assert_allclose(p @ rel[:3, :3].T + rel[:3, 3], moved.numpy(), atol=1e-5)


def test_execute_records_the_same_poses_as_stepping_one_target_at_a_time(panda):
    """``execute(targets, record=True)`` returns the object poses before and after each
    target, the same as executing the targets one by one."""
    cfg = WorldConfig(num_steps=3, physics_dt=0.004, objects=(2, 2))
    scene = sample_scene(np.random.default_rng(5), cfg)
    q0 = panda.default_q.numpy()
    targets = q0 + np.linspace(0.02, 0.06, 3)[:, None] * np.ones_like(q0)
    targets = np.clip(targets, panda.lower.numpy(), panda.upper.numpy())
    a, b = SimWorld(scene, panda, cfg, q0), SimWorld(scene, panda, cfg, q0)
    X = a.execute(targets, record=True)
    Y = [b.object_poses()]
    for t in targets:
        b.execute(t[None])
        Y.append(b.object_poses())
    assert X.shape == (4, 2, 4, 4)
    np.testing.assert_array_equal(X, np.stack(Y))
    np.testing.assert_array_equal(a.q, targets[-1])


def test_the_sim_package_does_not_import_data_or_eval():
    """``pointwm.sim`` is shared by data generation and evaluation and imports neither."""
    import subprocess
    import sys

    code = ("import sys, pointwm.sim, pointwm.tasks; "
            "bad = [m for m in sys.modules if m.startswith(('pointwm.data', 'pointwm.eval'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
