"""Closed-loop push tasks in the MuJoCo simulator of ``pointwm.data.sim``.

A task: one object on the table (box or cylinder, plus up to one distractor), a target
8-12 cm away on the table, the robot's tool a few cm behind the object. Each replan:
render RGB-D from two fixed cameras, backproject (robot pixels dropped, as in the data
generator), plan with the planner under test, execute the first ``execute_steps`` targets
in the simulator, repeat. Success: the object's centre ends within ``success_radius`` (3 cm)
of the target (xy).

Planners compared on the same task seeds: MPPI with the learned world model, MPPI with the
simulator itself as the dynamics (:class:`SimDynamics`, the oracle: every candidate rolled
out in MuJoCo from a copy of the current state), random shooting with the same number of
rollouts, and MPPI with a model that predicts no motion at all (:func:`zero_dynamics`: a
control that shows what the cost's shaping terms achieve without any prediction).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from planning import Goal, MPPIPlanner, PlannerConfig, RandomShootingPlanner, shift_sequence

__all__ = ["EvalConfig", "PushTask", "SimDynamics", "SimEnv", "TaskResult", "make_task", "object_footprint",
           "push_start_joints", "reposition_path", "repositioning_move", "run_task", "tool_is_behind", "zero_dynamics"]

log = logging.getLogger(__name__)

GOAL_MATCHES = ("points", "centroid")  # EvalConfig.goal_match


@dataclass(frozen=True)
class EvalConfig:
    """Closed-loop settings. Units: metres, seconds.

    execute_steps: plan targets executed before each replan; max_replans: replans per task.
    physics_dt: MuJoCo step (s) for execution and the oracle alike. crop: half size (m) of
    the xy box around object and target that the planners see. subgoal: longest goal
    displacement (m) asked of one plan; a longer way to the target is cut to this length
    along the straight line (a receding-horizon subgoal, the same for every planner); None:
    the whole way each time. start_angle: where the tool starts around the object, in
    degrees from behind it (0: lined up behind the object, facing the target, so moving into
    the object pushes it the right way; 90: beside it, so a push must first go round; the
    side alternates with the seed's parity); the same scene and target as at 0 unless the
    tool cannot reach that start, when the task draws again. settle_steps: plan steps the
    robot holds still after each execution before the scene is captured again, so that the
    planner sees a scene at rest (a world model sees positions only, not the velocity of an
    object still sliding from the last push); 0: capture at once. goal_match: what each plan's
    goal asks of the object's visible points: ``points``, every point moved by the way to the
    target (so turning the object costs too); ``centroid``, only their centroid moved by it
    (the object may turn, as success measures only its centre). reposition: in a round where
    the tool is not behind the object (see :func:`tool_is_behind`), move it round the object,
    ``reposition_clearance`` (m) outside its footprint, to its back (:func:`reposition_path`,
    from the capture by inverse kinematics) instead of planning: the same for every planner, a
    push primitive's repositioning move, which no 10-step random sample finds; the round
    counts as one of ``max_replans``, and the round after a finished move always plans (the
    next capture's estimate of the object may disagree by a few mm, and the tool would
    otherwise go back and forth). reposition_over: where no way round keeps the hand clear
    of the object (a tall object, or the hand above its edge after a push) and the tool is
    not in the object's shadow (:func:`repositioning_move`), go over it instead: up, across
    and down behind it (:func:`reposition_path`'s ``over``); False: the round plans.
    """

    robot: str = "panda"
    execute_steps: int = 3
    max_replans: int = 8
    success_radius: float = 0.03
    push_distance: tuple[float, float] = (0.08, 0.12)
    physics_dt: float = 0.004
    width: int = 128
    height: int = 96
    crop: float = 0.15
    subgoal: float | None = None
    start_angle: float = 0.0
    settle_steps: int = 0
    goal_match: str = "points"
    near_radius: float | None = None
    near_execute_steps: int = 1
    reposition: bool = False
    reposition_clearance: float = 0.04
    reposition_over: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.crop, int | float) and self.crop > 0):
            raise ValueError(f"EvalConfig.crop: expected a half size > 0 (m), got {self.crop!r}")
        if self.near_radius is not None and not (isinstance(self.near_radius, int | float) and self.near_radius > 0):
            raise ValueError(f"EvalConfig.near_radius: expected a distance > 0 (m) or None, got {self.near_radius!r}")
        for name in ("execute_steps", "near_execute_steps"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"EvalConfig.{name}: expected an integer >= 1, got {v!r}")
        if not (isinstance(self.reposition_clearance, int | float) and 0 < self.reposition_clearance <= 0.2):
            raise ValueError(f"EvalConfig.reposition_clearance: expected metres in (0, 0.2], got {self.reposition_clearance!r}")
        if self.reposition_over and not self.reposition:
            raise ValueError("EvalConfig.reposition_over: goes with reposition=True (--reposition-over needs --reposition)")
        if self.goal_match not in GOAL_MATCHES:
            raise ValueError(f"EvalConfig.goal_match: expected one of {GOAL_MATCHES}, got {self.goal_match!r}")
        if not (isinstance(self.settle_steps, int) and self.settle_steps >= 0):
            raise ValueError(f"EvalConfig.settle_steps: expected an integer >= 0, got {self.settle_steps!r}")
        if not (isinstance(self.start_angle, int | float) and 0.0 <= self.start_angle <= 180.0):
            raise ValueError(f"EvalConfig.start_angle: expected degrees in [0, 180], got {self.start_angle!r}")
        if self.subgoal is not None and not (isinstance(self.subgoal, int | float) and self.subgoal > 0):
            raise ValueError(f"EvalConfig.subgoal: expected a length > 0 (m) or None, got {self.subgoal!r}")


def goal_displacement(target_xy, object_xy, subgoal: float | None = None) -> tuple[float, float, float]:
    """(dx, dy, 0) m asked of one plan: the way from the object to the target, cut to
    ``subgoal`` metres along the straight line when longer (None: the whole way)."""
    way = np.asarray(target_xy, dtype=np.float64) - np.asarray(object_xy, dtype=np.float64)
    dist = float(np.linalg.norm(way))
    if subgoal is not None and dist > subgoal:
        way = way * (subgoal / dist)
    return (float(way[0]), float(way[1]), 0.0)


@dataclass(frozen=True)
class PushTask:
    """One seeded push task: the scene, the object to push, its target and the start pose."""

    seed: int
    scene: object  # pointwm.data.sim.scene.SceneSpec
    obj: int
    target_xy: tuple[float, float]
    q_start: np.ndarray  # (J,)


@dataclass
class TaskResult:
    seed: int
    planner: str
    success: bool
    final_error_m: float
    initial_error_m: float
    replans: int
    plan_times_s: list[float] = field(default_factory=list)
    repositions: int = 0


def _sim_config(cfg: EvalConfig, T: int, dt: float):
    from pointwm.data.sim.config import SimConfig

    return SimConfig(robot=cfg.robot, num_steps=T, step_dt=dt, physics_dt=cfg.physics_dt,
                     width=cfg.width, height=cfg.height, objects=(1, 2), cameras=(2, 2))


def make_task(seed: int, cfg: EvalConfig, robot, T: int = 10, dt: float = 0.1) -> PushTask:
    """A deterministic push task from ``seed`` (resamples until the start pose is reachable)."""
    os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco's first import
    from pointwm.data.sim.generator import sim_robot
    from pointwm.data.sim.motion import clear_of_table, down_rotation
    from pointwm.data.sim.scene import CameraSpec, sample_scene

    sim_cfg = _sim_config(cfg, T, dt)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    cams = (CameraSpec((1.25, 0.0, 0.75), (0.45, 0.0, 0.0), 55.0),
            CameraSpec((0.45, -0.9, 0.7), (0.45, 0.0, 0.0), 55.0))
    for _ in range(50):
        scene = sample_scene(rng, sim_cfg)
        o = scene.objects[0]
        if o.kind == "sphere":
            continue
        ang = float(rng.uniform(-math.pi, math.pi))
        d = np.array([math.cos(ang), math.sin(ang)])
        dist = float(rng.uniform(*cfg.push_distance))
        target = np.asarray(o.xy) + d * dist
        if not (0.3 <= target[0] <= 0.65 and abs(target[1]) <= 0.3):
            continue
        if any(math.dist(target, other.xy) < other.radius + 0.04 for other in scene.objects[1:]):
            continue
        gap = float(rng.uniform(0.03, 0.05))
        height = float(np.clip(o.half_height, 0.02, 0.04))
        a = math.radians(cfg.start_angle) * (1 if seed % 2 == 0 else -1)
        back = -np.array([d[0] * math.cos(a) - d[1] * math.sin(a), d[0] * math.sin(a) + d[1] * math.cos(a)])
        start = np.array([*(np.asarray(o.xy) + back * (o.radius + gap)), height])
        q, err = _reach_from_above(robot, robot.default_q.numpy(), start, down_rotation(ang + math.pi / 2))
        if err > 0.01 or not clear_of_table(sim_robot(cfg.robot), q[None]):
            continue
        task = PushTask(int(seed), replace(scene, cameras=cams), 0, (float(target[0]), float(target[1])), q)
        if _robot_touches_objects(task, robot, cfg, T, dt):
            continue
        return task
    raise RuntimeError(f"push task seed {seed}: no reachable task in 50 tries")


def _reach_from_above(robot, q_init: np.ndarray, pos: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, float]:
    """Joint values (J,) whose tool reaches ``pos`` (3,) m at orientation ``R`` (3, 3), by
    inverse kinematics from ``q_init`` (J,) through the pose 15 cm above (so the solution
    keeps the hand over the table), grippers closed; and the position error (m)."""
    from pointwm.data.sim.motion import arm_and_grippers, dls_ik

    arm, grip = arm_and_grippers(robot)
    q0 = np.asarray(q_init, dtype=np.float64).copy()
    if len(grip):
        q0[grip] = robot.lower.numpy()[grip]
    q, _ = dls_ik(robot, q0, pos + np.array([0.0, 0.0, 0.15]), R, arm, iters=60)
    return dls_ik(robot, q, pos, R, arm, iters=60)


def push_start_joints(robot, q_init: np.ndarray, object_xyz: np.ndarray, way, gap: float = 0.03) -> np.ndarray:
    """Joint values (J,) that put the tool where a push of an object along ``way`` (dx, dy[,
    dz]) m starts: ``gap`` (m) behind the object's footprint (:func:`object_footprint`, from
    its visible points (P, 3) m) on the line through its centre along the way, at half its
    height (2-4 cm), pointing down with its x axis across the way and the grippers closed:
    eval-plan's task start pose. Solved by inverse kinematics from ``q_init`` (J,).

    Raises ValueError where the way has no horizontal part or the tool cannot get within
    5 mm of that pose (out of reach).
    """
    from pointwm.data.sim.motion import down_rotation

    if not 0 < gap <= 0.2:
        raise ValueError(f"push start: gap expected in (0, 0.2] m, got {gap!r}")
    u = np.asarray(way, dtype=np.float64)[:2]
    if float(np.linalg.norm(u)) < 1e-6:
        raise ValueError(f"push start: the way {tuple(np.asarray(way).tolist())} m has no horizontal part to push along")
    c, footprint, _, u = _object_frame(object_xyz, way)
    top = float(np.max(np.asarray(object_xyz)[:, 2]))
    back = float(((c - footprint) @ u).max())
    start = np.array([*(c - u * (back + gap)), float(np.clip(0.5 * top, 0.02, 0.04))])
    q, err = _reach_from_above(robot, q_init, start, down_rotation(math.atan2(u[1], u[0]) + math.pi / 2))
    if err > 0.005:
        raise ValueError(f"push start: the tool cannot reach {np.round(start, 3).tolist()} m behind the object "
                         f"(inverse kinematics misses by {err * 100:.1f} cm)")
    return q


def _robot_touches_objects(task: PushTask, robot, cfg: EvalConfig, T: int, dt: float) -> bool:
    """True when the start pose already touches an object (it would knock it before t0)."""
    import mujoco

    from pointwm.data.sim.scene import build_mjcf

    xml, links = build_mjcf(task.scene, robot, _sim_config(cfg, T, dt))
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    P = robot.link_poses(torch.as_tensor(task.q_start[None]), validate=False)[0].numpy()
    for k, name in enumerate(links):
        T_ = P[robot.link_names.index(name)]
        mid = m.body_mocapid[m.body(f"robot_{k}").id]
        d.mocap_pos[mid] = T_[:3, 3]
        mujoco.mju_mat2Quat(d.mocap_quat[mid], np.ascontiguousarray(T_[:3, :3]).reshape(9))
    mujoco.mj_forward(m, d)
    robot_body = m.body_mocapid >= 0
    for i in range(d.ncon):
        c = d.contact[i]
        b1, b2 = m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]
        if (robot_body[b1] or robot_body[b2]) and c.dist < 0.005:
            return True
    return False


def _quats(R: np.ndarray) -> np.ndarray:
    """(..., 4) w-first unit quaternions of rotation matrices (..., 3, 3)."""
    import mujoco

    flat = R.reshape(-1, 9)
    out = np.empty((flat.shape[0], 4))
    for i in range(flat.shape[0]):
        mujoco.mju_mat2Quat(out[i], np.ascontiguousarray(flat[i]))
    return out.reshape(*R.shape[:-2], 4)


class SimEnv:
    """The task's MuJoCo world: robot as mocap bodies along joint paths, free objects."""

    def __init__(self, task: PushTask, robot, cfg: EvalConfig, T: int, dt: float) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco's first import
        import mujoco

        from pointwm.data.sim.scene import SEG_ROBOT, build_mjcf

        self.task, self.robot, self.cfg = task, robot, cfg
        self.sim_cfg = _sim_config(cfg, T, dt)
        xml, links = build_mjcf(task.scene, robot, self.sim_cfg)
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self.link_idx = [robot.link_names.index(n) for n in links]
        self.mocap = np.array([self.model.body_mocapid[self.model.body(f"robot_{k}").id] for k in range(len(links))])
        self.bodies = [self.model.body(f"obj_{k}").id for k in range(len(task.scene.objects))]
        seg = np.zeros(self.model.ngeom, dtype=np.int32)
        for g in range(self.model.ngeom):
            b = int(self.model.geom_bodyid[g])
            seg[g] = (self.bodies.index(b) + 1) if b in self.bodies else SEG_ROBOT if self.model.body_mocapid[b] >= 0 else 0
        self.geom_segment = seg
        self.q = np.asarray(task.q_start, dtype=np.float64).copy()
        self._apply(self._poses(self.q[None]))
        mujoco.mj_forward(self.model, self.data)
        for _ in range(int(round(1.0 / cfg.physics_dt))):  # settle 1 s
            mujoco.mj_step(self.model, self.data)
        self.data.qvel[:] = 0
        mujoco.mj_forward(self.model, self.data)

    # ------------------------------------------------------------------ robot driving
    def _poses(self, q: np.ndarray):
        """Mocap positions (..., B, 3) and quaternions (..., B, 4) for joint values q (..., J)."""
        P = self.robot.link_poses(torch.as_tensor(q), validate=False)[..., self.link_idx, :, :].numpy()
        return P[..., :3, 3], _quats(P[..., :3, :3])

    def _apply(self, pq, i=None) -> None:
        pos, quat = pq
        if i is not None:
            pos, quat = pos[i], quat[i]
        self.data.mocap_pos[self.mocap] = pos.reshape(-1, 3)
        self.data.mocap_quat[self.mocap] = quat.reshape(-1, 4)

    def fine_path(self, q_traj: np.ndarray) -> np.ndarray:
        """(..., T * S, J) joint values at every physics step, linear between steps."""
        S = self.sim_cfg.substeps
        frac = np.arange(1, S + 1) / S
        a, b = q_traj[..., :-1, None, :], q_traj[..., 1:, None, :]
        fine = a + frac[:, None] * (b - a)
        return fine.reshape(*q_traj.shape[:-2], -1, q_traj.shape[-1])

    def execute(self, targets: np.ndarray) -> None:
        """Drive the robot through targets (n, J) from the current q, one step each."""
        import mujoco

        path = np.concatenate([self.q[None], targets], axis=0)
        pq = self._poses(self.fine_path(path))
        for i in range(pq[0].shape[0]):
            self._apply(pq, i)
            mujoco.mj_step(self.model, self.data)
        self.q = targets[-1].copy()

    def hold(self, steps: int) -> None:
        """Keep the robot still for ``steps`` plan steps while the physics runs on (0: nothing)."""
        if steps > 0:
            self.execute(np.repeat(self.q[None], steps, axis=0))

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """The simulator's whole integration state and the robot's joints, for :meth:`restore`."""
        import mujoco

        state = np.empty(mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(self.model, self.data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
        return state, self.q.copy()

    def restore(self, snap: tuple[np.ndarray, np.ndarray]) -> None:
        """Return to a :meth:`snapshot` (bodies, velocities, mocap poses, time and joints)."""
        import mujoco

        mujoco.mj_setState(self.model, self.data, snap[0], mujoco.mjtState.mjSTATE_INTEGRATION)
        mujoco.mj_forward(self.model, self.data)
        self.q = snap[1].copy()

    # ------------------------------------------------------------------ observation
    def object_xy(self, k: int | None = None) -> np.ndarray:
        return self.data.xpos[self.bodies[self.task.obj if k is None else k], :2].copy()

    def observe(self, rng: np.random.Generator):
        """Rendered RGB-D → (PointCloud, segment (N,) int) cropped around object and target."""
        from pointwm.data.sim.generator import render_views, scene_points
        from pointwm.geometry import PointCloud

        views = render_views(self.model, self.data, self.task.scene, self.sim_cfg, self.geom_segment)
        pts = scene_points(views, self.task.scene, self.sim_cfg, rng)
        if pts is None:
            raise RuntimeError(f"task {self.task.seed}: the cameras see no scene points")
        xyz, col, seg, _, normals = pts
        c = 0.5 * (self.object_xy() + np.asarray(self.task.target_xy))
        half = self.cfg.crop + 0.5 * np.abs(self.object_xy() - np.asarray(self.task.target_xy))
        keep = (np.abs(xyz[:, :2] - c) <= half).all(1)
        cloud = PointCloud(torch.from_numpy(xyz[keep]).float(), torch.from_numpy(col[keep]).float() / 255.0,
                           torch.from_numpy(normals[keep]).float())
        return cloud, seg[keep].astype(np.int64)


class SimDynamics:
    """The simulator as planning dynamics (the oracle): each candidate joint path is rolled
    out in MuJoCo from a copy of the current state; scene points move with their body.

    ``uses_joint_trajectories``: called as ``(scene, robot_flows, q_traj=(K, T+1, J))``.
    """

    uses_joint_trajectories = True

    def __init__(self, env: SimEnv, segment: np.ndarray) -> None:
        self.env, self.segment = env, segment

    def __call__(self, scene, robot_flows: torch.Tensor, q_traj: torch.Tensor) -> torch.Tensor:
        import mujoco

        env = self.env
        m, d = env.model, env.data
        snap = env.snapshot()
        q = q_traj.double().numpy()
        K, T1, _ = q.shape
        S = env.sim_cfg.substeps
        pq = env._poses(env.fine_path(q))  # (K, T*S, B, 3), (K, T*S, B, 4)
        xyz = scene.xyz.double().numpy()
        flows = np.zeros((K, T1 - 1, len(xyz), 3))
        objs = [k for k in range(len(env.bodies)) if (self.segment == k + 1).any()]

        def poses():
            out = []
            for k in objs:
                R = d.xmat[env.bodies[k]].reshape(3, 3).copy()
                out.append((R, d.xpos[env.bodies[k]].copy()))
            return out

        try:
            for c in range(K):
                env.restore(snap)
                X0 = poses()
                for t in range(T1 - 1):
                    for s in range(S):
                        d.mocap_pos[env.mocap] = pq[0][c, t * S + s]
                        d.mocap_quat[env.mocap] = pq[1][c, t * S + s]
                        mujoco.mj_step(m, d)
                    for (R0, p0), (R, p), k in zip(X0, poses(), objs, strict=True):
                        sel = self.segment == k + 1
                        local = (xyz[sel] - p0) @ R0  # world -> body frame at t0
                        flows[c, t, sel] = local @ R.T + p - xyz[sel]
        finally:
            env.restore(snap)
        return torch.from_numpy(flows).float()


def zero_dynamics(scene, robot_flows: torch.Tensor) -> torch.Tensor:
    """The null world model: scene (N points), robot_flows (K, T+1, M, 3) m → (K, T, N, 3)
    zeros (m): every scene point stays where it is."""
    K, T1 = robot_flows.shape[:2]
    return robot_flows.new_zeros(K, T1 - 1, len(scene.xyz), 3)


def object_footprint(object_xyz: np.ndarray, top_band: float = 0.005) -> tuple[np.ndarray, np.ndarray]:
    """The xy centre (2,) and footprint (2P, 2) of an upright object from its visible points
    (P, 3), in metres: the centre is the mean of the points within ``top_band`` of the
    highest (its top face, seen whole from above, where the side points lean towards the
    cameras); the footprint is every point's xy and its mirror image through the centre
    (the hidden side)."""
    pts = np.asarray(object_xyz, dtype=np.float64)
    top = pts[:, 2] >= pts[:, 2].max() - top_band
    c = pts[top, :2].mean(0)
    return c, np.concatenate([pts[:, :2], 2 * c - pts[:, :2]])


def _object_frame(object_xyz: np.ndarray, way) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """:func:`object_footprint`'s centre (2,) and footprint (2P, 2), the footprint's radius
    about the centre (m) and the unit xy direction (2,) of ``way``."""
    c, footprint = object_footprint(object_xyz)
    r = float(np.linalg.norm(footprint - c, axis=1).max())
    u = np.asarray(way, dtype=np.float64)[:2]
    return c, footprint, r, u / max(float(np.linalg.norm(u)), 1e-9)


def _tool_place(tool_xy, object_xyz: np.ndarray, way) -> tuple[float, float, float]:
    """Where the tool (xy, m) is relative to the object's visible points (P, 3) and the way
    (dx, dy[, dz]) m they must go: its offset (m) along the way from their centre
    (:func:`object_footprint`; negative: behind), its distance (m) from the line through the
    centre along the way, and the footprint's radius (m)."""
    c, _, r, u = _object_frame(object_xyz, way)
    rel = np.asarray(tool_xy, dtype=np.float64)[:2] - c
    along = float(rel @ u)
    return along, float(np.linalg.norm(rel - along * u)), r


def tool_is_behind(tool_xy, object_xyz: np.ndarray, way) -> bool:
    """True when the tool (xy, m) is behind the object's visible points (P, 3) along the way
    (dx, dy[, dz]) m they must go: on the far side of their centre (:func:`object_footprint`)
    and within 40 % of the footprint's radius (at least 1 cm) of the line through it, where a
    push along the way meets the object near its centre line."""
    along, lateral, r = _tool_place(tool_xy, object_xyz, way)
    return along < 0 and lateral <= max(0.01, 0.4 * r)


def _resample(poly: np.ndarray, step: float, max_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A polyline's vertices (V, D) m as evenly spaced targets no more than ``step`` (m)
    apart, its start left out, at most ``max_steps`` of them: (arc length (V,) m of each
    vertex, arc length (n,) m of each target, the targets (n, D) m)."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(poly, axis=0), axis=1))])
    s = np.linspace(0.0, arc[-1], int(math.ceil(arc[-1] / step)) + 1)[1:max_steps + 1]
    return arc, s, np.stack([np.interp(s, arc, poly[:, k]) for k in range(poly.shape[1])], axis=1)


def reposition_path(robot, q: np.ndarray, object_xyz: np.ndarray, way, clearance: float = 0.04,
                    gap: float = 0.035, step: float = 0.015, max_steps: int = 10, dt: float = 0.1,
                    margin: float = 0.005, keep_off: float = 0.02, over: bool = False, lift: float = 0.03,
                    air_step: float = 0.03) -> np.ndarray | None:
    """(n, J) joint targets, n <= ``max_steps``, that take the tool round the object to its
    back from joint values ``q`` (J,) (rad, m), ``step`` (m) per target, at the tool's current
    orientation; ``way`` (dx, dy[, dz]) m is where the object must go.

    The object's centre and footprint are :func:`object_footprint`'s, from its visible points
    (P, 3). The path goes out to ``clearance`` (m) beyond the footprint's radius, along that
    circle the short way to the side opposite ``way``, then in to ``gap`` (m) behind the
    footprint on the line through the centre along ``way``, at half the object's height
    (2-4 cm, as tasks start). Where a robot surface point lower than ``margin`` (m) above the
    object's top comes within ``keep_off`` (m) of the footprint on the way round (the hand
    reaches 10 cm from the tool; the footprint misses a box's hidden corners), the circle is
    widened by 2 cm, up to three times. The last leg, in to the push pose, is not
    checked: there the hand reaches over the object as in any push from behind. Beyond
    ``max_steps`` the path is cut (the next round goes on). None where every circle
    touches, inverse kinematics misses a waypoint by over 5 mm, or a target would move a
    joint faster than its velocity limit allows in one plan step of ``dt`` seconds.

    ``over``: where every circle touches, go over the object instead, ``air_step`` (m) per
    target: straight up to ``lift`` (m) above its top, across to above the push pose (checked
    as the circles are: no low robot point near the footprint), and down into it. The way up
    is not checked (it moves away from an upright object), nor the way down (the last leg,
    as for the circles).
    """
    from scipy.spatial import cKDTree

    from pointwm.data.sim.motion import arm_and_grippers, dls_ik, tool_link

    c, footprint, r, u = _object_frame(object_xyz, way)
    top = float(np.max(np.asarray(object_xyz)[:, 2]))
    tree = cKDTree(footprint)
    back = float(((c - footprint) @ u).max())  # how far the footprint reaches behind the centre
    z_push = float(np.clip(0.5 * top, 0.02, 0.04))
    link = tool_link(robot)
    pose = robot.link_poses(torch.as_tensor(q[None], dtype=torch.float64), validate=False)[0, link].numpy()
    p0, R = pose[:3, 3], pose[:3, :3]
    rel = p0[:2] - c
    d0 = float(np.linalg.norm(rel))
    a0 = math.atan2(rel[1], rel[0])
    da = (math.atan2(-u[1], -u[0]) - a0 + math.pi) % (2 * math.pi) - math.pi  # the short way round
    arm, _ = arm_and_grippers(robot)
    bound = robot.velocity_limits.numpy() * dt
    base = robot.point_link == 0

    def closest(qs: np.ndarray) -> float:  # xy distance of the nearest low robot point to the footprint
        sp = robot.surface_points(torch.from_numpy(qs), validate=False)[:, ~base].numpy()  # (n, M', 3)
        low = sp[sp[..., 2] < top + margin][:, :2]
        return math.inf if len(low) == 0 else float(tree.query(low)[0].min())

    def solve(way_xy: np.ndarray, z: np.ndarray) -> np.ndarray | None:  # IK along the targets, in limits
        out, qk = [], np.asarray(q, dtype=np.float64).copy()
        for w, zk in zip(way_xy, z, strict=True):
            qn, err = dls_ik(robot, qk, np.array([w[0], w[1], zk]), R, arm, iters=30)
            if err > 0.005 or (np.abs(qn - qk) > bound).any():
                return None
            out.append(qn)
            qk = qn
        return np.stack(out)

    for widen in (0.0, 0.02, 0.04, 0.06):
        R_out = max(r + clearance + widen, d0)
        xy = [p0[:2]]
        if d0 < R_out:
            xy.append(c + R_out * np.array([math.cos(a0), math.sin(a0)]))
        n_arc = max(2, int(math.ceil(abs(da) * R_out / (0.25 * step))))
        xy += [c + R_out * np.array([math.cos(a0 + da * k / n_arc), math.sin(a0 + da * k / n_arc)])
               for k in range(1, n_arc + 1)]
        xy.append(c - u * (back + gap))
        arc, s, way_xy = _resample(np.array(xy), step, max_steps)
        if len(s) == 0:
            return None
        z = p0[2] + (z_push - p0[2]) * np.clip(s / max(arc[-2], 1e-9), 0.0, 1.0)  # to the push height on the way
        path = solve(way_xy, z)
        if path is None:
            return None
        circling = s <= arc[-2] + 1e-9  # the last leg, in to the push pose, is not checked
        if not circling.any() or closest(path[circling]) >= keep_off:
            return path
    if not over:
        return None
    z_air = max(p0[2], top + lift)
    push = np.array([*(c - u * (back + gap)), z_push])
    arc, s, pts = _resample(np.array([p0, [p0[0], p0[1], z_air], [push[0], push[1], z_air], push]), air_step, max_steps)
    path = None if len(s) == 0 else solve(pts[:, :2], pts[:, 2])
    if path is None:
        return None
    across = (s > arc[1] + 1e-9) & (s <= arc[2] + 1e-9)  # the way up and the way down are not checked
    return path if not across.any() or closest(path[across]) >= keep_off else None


def repositioning_move(robot, q: np.ndarray, object_xyz: np.ndarray, way, clearance: float, T: int,
                       dt: float, over: bool = False) -> np.ndarray | None:
    """``--reposition``'s move for one round: :func:`reposition_path`'s (n, J) joint targets
    (n <= ``T``) from joint values ``q`` (J,), where the tool is not behind the object's
    visible points (P, 3) m along ``way`` (dx, dy[, dz]) m (:func:`tool_is_behind`); None
    where it is behind, or where no path is found (the round plans). ``over``: the path may
    go over the object (:func:`reposition_path`), except where the tool is in the object's
    shadow (on its far side from where it must go and within the footprint's radius of the
    line through its centre: a push from there still meets it, and the round may plan); a
    tool 1.5 cm or more above the object's top counts as not behind (a move over it that a
    round cut short goes on down)."""
    from pointwm.data.sim.motion import tool_link

    tool = robot.link_poses(torch.from_numpy(q[None]), validate=False)[0, tool_link(robot), :3, 3].numpy()
    high = over and tool[2] >= float(np.max(np.asarray(object_xyz)[:, 2])) + 0.015
    if tool_is_behind(tool[:2], object_xyz, way) and not high:
        return None
    if over and not high:
        along, lateral, r = _tool_place(tool[:2], object_xyz, way)
        over = not (along < 0 and lateral <= r)  # out of the object's shadow
    return reposition_path(robot, q, object_xyz, way, clearance, max_steps=T, dt=dt, over=over)


def run_task(task: PushTask, planner_name: str, robot, planner_cfg: PlannerConfig, cfg: EvalConfig,
             world_model=None) -> TaskResult:
    """Run one task in closed loop with planner ``mppi_model`` | ``mppi_oracle`` | ``random``
    | ``mppi_zero`` (MPPI with :func:`zero_dynamics`)."""
    env = SimEnv(task, robot, cfg, planner_cfg.T, planner_cfg.dt)
    rng = np.random.default_rng(task.seed)
    target = np.asarray(task.target_xy)
    err0 = float(np.linalg.norm(env.object_xy() - target))
    planner = RandomShootingPlanner(planner_cfg) if planner_name == "random" else MPPIPlanner(planner_cfg)
    if planner_name == "mppi_model" and world_model is None:
        raise ValueError("run_task: planner 'mppi_model' needs a world_model")
    times: list[float] = []
    warm = None
    replans = repositions = 0
    moved_round = False  # the last round finished a repositioning move
    for _ in range(cfg.max_replans):
        cloud, seg = env.observe(rng)
        mask = torch.from_numpy(seg == task.obj + 1)
        if not bool(mask.any()):
            if warm is None:
                log.warning("task %d: the object is out of view", task.seed)
                break
            # hidden (by the robot, say): carry on along the previous plan and look again
            log.info("task %d: the object is out of view; following the previous plan", task.seed)
            env.execute(warm[: cfg.execute_steps].double().numpy())
            warm = shift_sequence(warm, cfg.execute_steps)
            env.hold(cfg.settle_steps)
            continue
        disp = goal_displacement(target, env.object_xy(), cfg.subgoal)
        if cfg.reposition and not moved_round:
            path = repositioning_move(robot, env.q, cloud.xyz[mask].double().numpy(), disp,
                                      cfg.reposition_clearance, planner_cfg.T, planner_cfg.dt, cfg.reposition_over)
            if path is not None:
                env.execute(path)
                warm = None  # the previous plan started from elsewhere
                repositions += 1
                # done (not cut; a path of exactly T targets counts as cut): the next round plans
                moved_round = len(path) < planner_cfg.T
                env.hold(cfg.settle_steps)
                continue
        if cfg.goal_match == "centroid":
            seen = cloud.xyz[mask].double().mean(0).numpy()  # (3,) m: the visible points' centroid
            goal = Goal(mask=mask, centroid=tuple((seen + disp).tolist()))
        else:
            goal = Goal(mask=mask, displacement=disp)
        moved_round = False
        dyn = (SimDynamics(env, seg) if planner_name == "mppi_oracle"
               else zero_dynamics if planner_name == "mppi_zero" else world_model)
        t0 = time.perf_counter()
        plan = planner.plan(dyn, cloud, robot, torch.from_numpy(env.q).float(), goal, warm_start=warm)
        times.append(time.perf_counter() - t0)
        replans += 1
        near = cfg.near_radius is not None and np.linalg.norm(env.object_xy() - target) <= cfg.near_radius
        n = cfg.near_execute_steps if near else cfg.execute_steps
        env.execute(plan.actions[:n].double().numpy())
        warm = plan.shifted(n)
        env.hold(cfg.settle_steps)
        if np.linalg.norm(env.object_xy() - target) <= cfg.success_radius:
            env.hold(2)  # done only if it stays there: a shoved object may still be sliding through
            if np.linalg.norm(env.object_xy() - target) <= cfg.success_radius:
                break
    env.hold(2)  # let the object come to rest
    err = float(np.linalg.norm(env.object_xy() - target))
    return TaskResult(task.seed, planner_name, err <= cfg.success_radius, err, err0, replans, times, repositions)
