"""``SimWorld``: one MuJoCo table-top world, as data generation and evaluation both use it.

The robot is a set of mocap bodies (one per link with primitive shapes) whose poses come
from ``kinematics`` forward kinematics: it is driven exactly along a joint path, linearly
interpolated between the path's steps at every physics step, and pushes the free objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np
import torch

from pointwm.sim.config import WorldConfig
from pointwm.sim.render import render_views, scene_points
from pointwm.sim.scene import SEG_ROBOT, SceneSpec, build_mjcf

__all__ = ["SimWorld", "object_poses", "robot_contacts"]


def _quats(R: np.ndarray) -> np.ndarray:
    """(..., 4) w-first unit quaternions of rotation matrices (..., 3, 3)."""
    flat = R.reshape(-1, 9)
    out = np.empty((flat.shape[0], 4))
    for i in range(flat.shape[0]):
        mujoco.mju_mat2Quat(out[i], np.ascontiguousarray(flat[i]))
    return out.reshape(*R.shape[:-2], 4)


def _pose(pos, quat) -> np.ndarray:
    T = np.eye(4)
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, np.asarray(quat, dtype=np.float64))
    T[:3, :3], T[:3, 3] = R.reshape(3, 3), pos
    return T


def object_poses(data, body_ids: Sequence[int]) -> np.ndarray:
    """(K, 4, 4) world poses of the bodies ``body_ids`` in MuJoCo ``data``."""
    return np.stack([_pose(data.xpos[b], data.xquat[b]) for b in body_ids]) if body_ids else np.zeros((0, 4, 4))


def robot_contacts(model, data, within: float = 0.005) -> bool:
    """True when a robot (mocap) body is within ``within`` metres of contact with anything."""
    robot_body = model.body_mocapid >= 0
    for i in range(data.ncon):
        c = data.contact[i]
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        if (robot_body[b1] or robot_body[b2]) and c.dist < within:
            return True
    return False


class SimWorld:
    """A scene (:class:`pointwm.sim.scene.SceneSpec`) in MuJoCo with the robot at joints ``q``.

    scene: objects and cameras; robot: a ``kinematics.RobotModel`` (its primitive shapes
    become the simulated robot); cfg: the world's time steps and image size; q: (J,) the
    robot's joints (rad, m). The world starts with the robot placed at q and the model
    forwarded (no physics step yet): :meth:`step` lets the objects settle.

    Attributes: ``model``, ``data`` (MuJoCo), ``q`` (J,) the robot's current joints,
    ``bodies`` the object body ids (object k has segment id k + 1), ``geom_segment`` (G,)
    each geom's segment id.
    """

    def __init__(self, scene: SceneSpec, robot, cfg: WorldConfig, q: np.ndarray) -> None:
        self.scene, self.robot, self.cfg = scene, robot, cfg
        xml, links = build_mjcf(scene, robot, cfg)
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self.link_idx = [robot.link_names.index(n) for n in links]
        self.mocap = np.array([self.model.body_mocapid[self.model.body(f"robot_{k}").id] for k in range(len(links))])
        self.bodies = [self.model.body(f"obj_{k}").id for k in range(len(scene.objects))]
        seg = np.zeros(self.model.ngeom, dtype=np.int32)
        for g in range(self.model.ngeom):
            b = int(self.model.geom_bodyid[g])
            seg[g] = (self.bodies.index(b) + 1) if b in self.bodies else SEG_ROBOT if self.model.body_mocapid[b] >= 0 else 0
        self.geom_segment = seg
        self.q = np.asarray(q, dtype=np.float64).copy()
        self._apply(self.poses(self.q[None]))
        mujoco.mj_forward(self.model, self.data)

    # ------------------------------------------------------------------ robot driving
    def poses(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mocap positions (..., B, 3) m and w-first quaternions (..., B, 4) of the robot's
        bodies for joint values q (..., J)."""
        P = self.robot.link_poses(torch.as_tensor(q), validate=False)[..., self.link_idx, :, :].numpy()
        return P[..., :3, 3], _quats(P[..., :3, :3])

    def _apply(self, pq, i=None) -> None:
        pos, quat = pq
        if i is not None:
            pos, quat = pos[i], quat[i]
        self.data.mocap_pos[self.mocap] = pos.reshape(-1, 3)
        self.data.mocap_quat[self.mocap] = quat.reshape(-1, 4)

    def fine_path(self, q_traj: np.ndarray) -> np.ndarray:
        """(..., T * S, J) joint values at every physics step (S per step), linear between
        the steps of ``q_traj`` (..., T+1, J)."""
        S = self.cfg.substeps
        frac = np.arange(1, S + 1) / S
        a, b = q_traj[..., :-1, None, :], q_traj[..., 1:, None, :]
        fine = a + frac[:, None] * (b - a)
        return fine.reshape(*q_traj.shape[:-2], -1, q_traj.shape[-1])

    def execute(self, targets: np.ndarray, record: bool = False) -> np.ndarray | None:
        """Drive the robot through joint targets (n, J) from the current joints, one step
        (``cfg.step_dt``) each. ``record``: return the object poses (n+1, K, 4, 4) before the
        first step and after each."""
        path = np.concatenate([self.q[None], targets], axis=0)
        pq = self.poses(self.fine_path(path))
        S = self.cfg.substeps
        X = [object_poses(self.data, self.bodies)] if record else None
        for i in range(pq[0].shape[0]):
            self._apply(pq, i)
            mujoco.mj_step(self.model, self.data)
            if record and (i + 1) % S == 0:
                X.append(object_poses(self.data, self.bodies))
        self.q = targets[-1].copy()
        return np.stack(X) if record else None

    def hold(self, steps: int) -> None:
        """Keep the robot still for ``steps`` motion steps while the physics runs on (0: nothing)."""
        if steps > 0:
            self.execute(np.repeat(self.q[None], steps, axis=0))

    def step(self, n: int) -> None:
        """``n`` physics steps with the robot where it is."""
        for _ in range(n):
            mujoco.mj_step(self.model, self.data)

    def stop(self) -> None:
        """Set every velocity to zero."""
        self.data.qvel[:] = 0

    def forward(self) -> None:
        """Recompute positions, contacts and the rest from the current state (no time passes)."""
        mujoco.mj_forward(self.model, self.data)

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """The simulator's whole integration state and the robot's joints, for :meth:`restore`."""
        state = np.empty(mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(self.model, self.data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
        return state, self.q.copy()

    def restore(self, snap: tuple[np.ndarray, np.ndarray]) -> None:
        """Return to a :meth:`snapshot` (bodies, velocities, mocap poses, time and joints)."""
        mujoco.mj_setState(self.model, self.data, snap[0], mujoco.mjtState.mjSTATE_INTEGRATION)
        mujoco.mj_forward(self.model, self.data)
        self.q = snap[1].copy()

    # ------------------------------------------------------------------ observation
    def object_poses(self) -> np.ndarray:
        """(K, 4, 4) world poses of the objects."""
        return object_poses(self.data, self.bodies)

    def object_xy(self, k: int) -> np.ndarray:
        """(2,) world xy (m) of object ``k``'s body origin."""
        return self.data.xpos[self.bodies[k], :2].copy()

    def robot_touches(self, within: float = 0.005) -> bool:
        """True when the robot is within ``within`` metres of contact with anything."""
        return robot_contacts(self.model, self.data, within)

    def render(self) -> list[dict]:
        """Per camera: rgb, depth, seg (:func:`pointwm.sim.render.render_views`)."""
        return render_views(self.model, self.data, self.scene, self.cfg, self.geom_segment)

    def points(self, views: list[dict], rng: np.random.Generator):
        """The t0 scene points of ``views`` (:func:`pointwm.sim.render.scene_points`), or None."""
        return scene_points(views, self.scene, self.cfg, rng)
