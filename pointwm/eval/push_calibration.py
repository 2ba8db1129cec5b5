"""How far a world model predicts a pushed object to move, against the simulator.

From a push task's state (its start, or after the tool first moved ``pre`` metres straight
towards the target and the scene settled), straight tool paths over the model's T steps are
rolled out by the model and by the simulator (``pointwm.sim.SimDynamics``). For each path,
the pushed object's mean displacement per step, in the push's frame (along the way to the
target, across it), model and simulator side by side. Three families of paths:

- ``lengths``: centred pushes of 5, 10, 15 and 20 cm (is the model calibrated in distance?);
- ``offsets``: 15 cm pushes whose line passes the object's centre at lateral offsets (does it
  know an off-centre push turns, grazes or misses?);
- ``retreat``: paths that leave the object (a pusher cannot pull: does it predict no motion?).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kinematics.ik import arm_and_grippers, dls_ik, tool_link_index
from planning import Rollout
from pointwm.errors import ConfigError
from pointwm.sim import SimDynamics
from pointwm.tasks.push import PushConfig, PushEnv, make_task

__all__ = ["LENGTHS", "RETREATS", "PathResult", "calibrate", "straight_path"]

LENGTHS = (0.05, 0.10, 0.15, 0.20)  # m, centred pushes
RETREATS = ("back 5 cm", "back 10 cm", "aside +8 cm", "aside -8 cm")


def straight_path(robot, q0: np.ndarray, way: np.ndarray, n: int, side: np.ndarray | None = None) -> np.ndarray:
    """(n, J) joint targets that move the tool from joints q0 (J,) along ``way`` (3,) m in n
    equal steps at its orientation, plus ``side`` (3,) m spread over the first 3 steps."""
    tool = tool_link_index(robot)
    arm, _ = arm_and_grippers(robot)
    pose = robot.link_poses(torch.as_tensor(q0[None]), validate=False)[0, tool].numpy()
    q, qs = q0.copy(), []
    for t in range(1, n + 1):
        shift = way * t / n + (0.0 if side is None else side * min(t, 3) / 3)
        q, _ = dls_ik(robot, q, pose[:3, 3] + shift, pose[:3, :3], arm, iters=15)
        qs.append(q)
    return np.stack(qs)


@dataclass(frozen=True)
class PathResult:
    """One tool path: its label, and the pushed object's mean displacement (T, 2) m per step
    in the push's frame (along, across), predicted by the model and by the simulator."""

    label: str
    model: np.ndarray
    simulator: np.ndarray


def calibrate(model, robot, seed: int, family: str = "lengths", offsets_cm=(0.0,), pre: float = 0.0, hold: int = 5,
              dt: float = 0.1, task: PushConfig | None = None) -> list[PathResult]:
    """The paths of ``family`` (``lengths``, ``offsets`` at ``offsets_cm`` lateral offsets,
    or ``retreat``) from push task ``seed``, after the tool first moved ``pre`` m towards the
    target in 5 steps and the scene settled ``hold`` steps (``pre`` 0: from the start pose).
    T is the model's; ``dt`` the planner presets' step (s)."""
    if family not in ("lengths", "offsets", "retreat"):
        raise ConfigError(f"calibrate: family: expected lengths, offsets or retreat, got {family!r}")
    task = task or PushConfig(robot=robot.name)
    T = int(model.config.num_steps)
    env = PushEnv(make_task(seed, task, robot, T, dt), robot, task, T, dt)
    d = np.r_[np.asarray(env.task.target_xy) - env.object_xy(), 0.0]
    d /= np.linalg.norm(d)
    if pre > 0:
        env.world.execute(straight_path(robot, env.q, d * pre, 5))
        env.world.hold(hold)
    cloud, seg = env.observe(np.random.default_rng(seed))
    mask = env.object_mask(seg)
    q0 = env.q.copy()
    n = np.array([-d[1], d[0], 0.0])
    if family == "retreat":
        ways = dict(zip(RETREATS, (-d * 0.05, -d * 0.10, n * 0.08, -n * 0.08), strict=True))
        paths = {k: straight_path(robot, q0, w, T) for k, w in ways.items()}
    elif family == "offsets":
        paths = {f"offset {o:.1f} cm": straight_path(robot, q0, d * 0.15, T, n * o / 100) for o in offsets_cm}
    else:
        paths = {f"push {L * 100:.0f} cm": straight_path(robot, q0, d * L, T) for L in LENGTHS}
    q = torch.from_numpy(np.stack([np.concatenate([q0[None], p]) for p in paths.values()]))
    flows = robot.point_flow(q).float()
    sim = SimDynamics(env.world, seg)(cloud, Rollout(q, flows))
    pred = model.predict(cloud, flows)
    axes = torch.from_numpy(np.stack([d[:2], n[:2]], 1)).float()  # xy -> (along, across) the push
    return [PathResult(label, (pred[i][:, mask].mean(1)[:, :2] @ axes).numpy(), (sim[i][:, mask].mean(1)[:, :2] @ axes).numpy())
            for i, label in enumerate(paths)]
