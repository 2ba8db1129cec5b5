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

__all__ = ["EvalConfig", "PushTask", "SimDynamics", "SimEnv", "TaskResult", "make_task", "run_task", "zero_dynamics"]

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
    (the object may turn, as success measures only its centre).
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

    def __post_init__(self) -> None:
        if not (isinstance(self.crop, int | float) and self.crop > 0):
            raise ValueError(f"EvalConfig.crop: expected a half size > 0 (m), got {self.crop!r}")
        if self.near_radius is not None and not (isinstance(self.near_radius, int | float) and self.near_radius > 0):
            raise ValueError(f"EvalConfig.near_radius: expected a distance > 0 (m) or None, got {self.near_radius!r}")
        for name in ("execute_steps", "near_execute_steps"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"EvalConfig.{name}: expected an integer >= 1, got {v!r}")
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


def _sim_config(cfg: EvalConfig, T: int, dt: float):
    from pointwm.data.sim.config import SimConfig

    return SimConfig(robot=cfg.robot, num_steps=T, step_dt=dt, physics_dt=cfg.physics_dt,
                     width=cfg.width, height=cfg.height, objects=(1, 2), cameras=(2, 2))


def make_task(seed: int, cfg: EvalConfig, robot, T: int = 10, dt: float = 0.1) -> PushTask:
    """A deterministic push task from ``seed`` (resamples until the start pose is reachable)."""
    os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco's first import
    from pointwm.data.sim.generator import sim_robot
    from pointwm.data.sim.motion import arm_and_grippers, clear_of_table, dls_ik, down_rotation
    from pointwm.data.sim.scene import CameraSpec, sample_scene

    sim_cfg = _sim_config(cfg, T, dt)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    cams = (CameraSpec((1.25, 0.0, 0.75), (0.45, 0.0, 0.0), 55.0),
            CameraSpec((0.45, -0.9, 0.7), (0.45, 0.0, 0.0), 55.0))
    arm, grip = arm_and_grippers(robot)
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
        R = down_rotation(ang + math.pi / 2)
        q0 = robot.default_q.numpy().copy()
        if len(grip):
            q0[grip] = robot.lower.numpy()[grip]
        q, _ = dls_ik(robot, q0, start + np.array([0, 0, 0.15]), R, arm, iters=60)
        q, err = dls_ik(robot, q, start, R, arm, iters=60)
        if err > 0.01 or not clear_of_table(sim_robot(cfg.robot), q[None]):
            continue
        task = PushTask(int(seed), replace(scene, cameras=cams), 0, (float(target[0]), float(target[1])), q)
        if _robot_touches_objects(task, robot, cfg, T, dt):
            continue
        return task
    raise RuntimeError(f"push task seed {seed}: no reachable task in 50 tries")


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
    replans = 0
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
        if cfg.goal_match == "centroid":
            seen = cloud.xyz[mask].double().mean(0).numpy()  # (3,) m: the visible points' centroid
            goal = Goal(mask=mask, centroid=tuple((seen + disp).tolist()))
        else:
            goal = Goal(mask=mask, displacement=disp)
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
    return TaskResult(task.seed, planner_name, err <= cfg.success_radius, err, err0, replans, times)
