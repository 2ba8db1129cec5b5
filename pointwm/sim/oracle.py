"""The simulator as planning dynamics: the oracle a learned world model is measured against."""

from __future__ import annotations

import mujoco
import numpy as np
import torch

from planning.dynamics import Rollout
from pointwm.sim.world import SimWorld

__all__ = ["SimDynamics"]


class SimDynamics:
    """Each candidate joint path is rolled out in MuJoCo from a snapshot of the world's
    current state (restored afterwards); each scene point moves rigidly with its body.

    world: the :class:`SimWorld` to roll out in; segment: (N,) int, each scene point's
    segment id (object k is k + 1; others stay still). Called as a ``planning.Dynamics``:
    ``(scene (N points), rollout)`` -> (K, T, N, 3) float32 displacements (m).
    """

    def __init__(self, world: SimWorld, segment: np.ndarray) -> None:
        self.world, self.segment = world, segment

    def __call__(self, scene, rollout: Rollout) -> torch.Tensor:
        world = self.world
        m, d = world.model, world.data
        snap = world.snapshot()
        q = rollout.q.double().numpy()
        K, T1, _ = q.shape
        S = world.cfg.substeps
        pq = world.poses(world.fine_path(q))  # (K, T*S, B, 3), (K, T*S, B, 4)
        xyz = scene.xyz.double().numpy()
        flows = np.zeros((K, T1 - 1, len(xyz), 3))
        objs = [k for k in range(len(world.bodies)) if (self.segment == k + 1).any()]

        def poses():
            out = []
            for k in objs:
                R = d.xmat[world.bodies[k]].reshape(3, 3).copy()
                out.append((R, d.xpos[world.bodies[k]].copy()))
            return out

        try:
            for c in range(K):
                world.restore(snap)
                X0 = poses()
                for t in range(T1 - 1):
                    for s in range(S):
                        d.mocap_pos[world.mocap] = pq[0][c, t * S + s]
                        d.mocap_quat[world.mocap] = pq[1][c, t * S + s]
                        mujoco.mj_step(m, d)
                    for (R0, p0), (R, p), k in zip(X0, poses(), objs, strict=True):
                        sel = self.segment == k + 1
                        local = (xyz[sel] - p0) @ R0  # world -> body frame at t0
                        flows[c, t, sel] = local @ R.T + p - xyz[sel]
        finally:
            world.restore(snap)
        return torch.from_numpy(flows).float()
