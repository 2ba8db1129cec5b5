"""The push task: move one object on the table to within a few cm of a target.

A task (:func:`make_task`, deterministic in its seed): one object on the table (box or
cylinder, plus up to one distractor), a target 8-12 cm away on the table, the robot's tool a
few cm behind the object (or beside it, ``start_angle``), seen by two fixed cameras.
:class:`PushEnv` is the task in the simulator: what the planner sees (:meth:`PushEnv.observe`:
RGB-D backprojected, robot pixels dropped, cropped around object and target) and what it is
asked (:meth:`PushEnv.goal`). Success: the object's centre within ``success_radius`` (xy) of
the target.

:data:`COST_TERMS` are the push task's shaping terms for the planner (``reach``, ``approach``);
``pointwm.tasks.reposition`` holds the optional scripted repositioning move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from kinematics.ik import arm_and_grippers, down_rotation, reach_from_above
from planning import CostTerm, Goal
from planning.goal import ResolvedGoal
from pointwm.errors import ConfigError, InputError
from pointwm.geometry import PointCloud
from pointwm.sim import CameraSpec, SimWorld, WorldConfig, clear_of_table, sample_scene, sim_robot
from pointwm.sim.scene import SceneSpec

__all__ = ["COST_TERMS", "GOAL_MATCHES", "PushConfig", "PushEnv", "PushTask", "approach_cost", "goal_displacement",
           "make_task", "object_footprint", "push_start_joints", "reach_cost", "world_config"]

GOAL_MATCHES = ("points", "centroid")  # PushConfig.goal_match
CAMERAS = (CameraSpec((1.25, 0.0, 0.75), (0.45, 0.0, 0.0), 55.0),
           CameraSpec((0.45, -0.9, 0.7), (0.45, 0.0, 0.0), 55.0))
SETTLE_S = 1.0  # seconds the objects settle in a new task's world before the first capture


@dataclass(frozen=True)
class PushConfig:
    """The push task family. Units: metres, seconds, degrees, pixels.

    robot: robot name. success_radius: how close (xy) the object's centre must end to its
    target. push_distance: (lo, hi) distance from the object to its target. physics_dt:
    MuJoCo step (s); width, height: camera images. crop: half size (m) of the xy box around
    object and target that the planner sees, beyond half their distance. subgoal: longest
    goal displacement (m) asked of one plan; a longer way to the target is cut to this length
    along the straight line (a receding-horizon subgoal, the same for every planner); None:
    the whole way each time. start_angle: where the tool starts around the object, in
    degrees from behind it (0: lined up behind the object, facing the target, so moving into
    the object pushes it the right way; 90: beside it, so a push must first go round; the
    side alternates with the seed's parity); the same scene and target as at 0 unless the
    tool cannot reach that start, when the task draws again. goal_match: what each plan's
    goal asks of the object's visible points: ``points``, every point moved by the way to the
    target (so turning the object costs too); ``centroid``, only their centroid moved by it
    (the object may turn, as success measures only its centre).
    """

    robot: str = "panda"
    success_radius: float = 0.03
    push_distance: tuple[float, float] = (0.08, 0.12)
    physics_dt: float = 0.004
    width: int = 128
    height: int = 96
    crop: float = 0.15
    subgoal: float | None = None
    start_angle: float = 0.0
    goal_match: str = "points"

    def __post_init__(self) -> None:
        if not (isinstance(self.crop, int | float) and self.crop > 0):
            raise ConfigError(f"PushConfig.crop: expected a half size > 0 (m), got {self.crop!r}")
        if self.goal_match not in GOAL_MATCHES:
            raise ConfigError(f"PushConfig.goal_match: expected one of {GOAL_MATCHES}, got {self.goal_match!r}")
        if not (isinstance(self.start_angle, int | float) and 0.0 <= self.start_angle <= 180.0):
            raise ConfigError(f"PushConfig.start_angle: expected degrees in [0, 180], got {self.start_angle!r}")
        if self.subgoal is not None and not (isinstance(self.subgoal, int | float) and self.subgoal > 0):
            raise ConfigError(f"PushConfig.subgoal: expected a length > 0 (m) or None, got {self.subgoal!r}")
        if not (isinstance(self.success_radius, int | float) and self.success_radius > 0):
            raise ConfigError(f"PushConfig.success_radius: expected a distance > 0 (m), got {self.success_radius!r}")
        lo, hi = self.push_distance
        if not 0 < lo <= hi:
            raise ConfigError(f"PushConfig.push_distance: expected (lo, hi) with 0 < lo <= hi (m), got {self.push_distance!r}")
        object.__setattr__(self, "push_distance", (float(lo), float(hi)))


def world_config(cfg: PushConfig, T: int, dt: float) -> WorldConfig:
    """The task's simulated world: T steps of dt seconds, 1-2 objects, 2 cameras."""
    return WorldConfig(robot=cfg.robot, num_steps=T, step_dt=dt, physics_dt=cfg.physics_dt,
                       width=cfg.width, height=cfg.height, objects=(1, 2), cameras=(2, 2))


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
    """One seeded push task: the scene, the object to push (index into its objects), its
    target (xy, m) and the robot's start joints q_start (J,)."""

    seed: int
    scene: SceneSpec
    obj: int
    target_xy: tuple[float, float]
    q_start: np.ndarray


def make_task(seed: int, cfg: PushConfig, robot, T: int = 10, dt: float = 0.1) -> PushTask:
    """A deterministic push task from ``seed``; redraws (at most 50 times) until the start
    pose is reachable and touches nothing. Raises RuntimeError when none is found."""
    wcfg = world_config(cfg, T, dt)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    arm, grip = arm_and_grippers(robot)
    for _ in range(50):
        scene = sample_scene(rng, wcfg)
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
        q, err = _reach_closed(robot, robot.default_q.numpy(), start, down_rotation(ang + math.pi / 2), arm, grip)
        if err > 0.01 or not clear_of_table(sim_robot(cfg.robot), q[None]):
            continue
        task = PushTask(int(seed), replace(scene, cameras=CAMERAS), 0, (float(target[0]), float(target[1])), q)
        if SimWorld(task.scene, robot, wcfg, q).robot_touches():
            continue  # the start pose would knock the object before t0
        return task
    raise RuntimeError(f"push task seed {seed}: no reachable task in 50 tries")


def _reach_closed(robot, q_init: np.ndarray, pos: np.ndarray, R: np.ndarray, arm: np.ndarray,
                  grip: np.ndarray) -> tuple[np.ndarray, float]:
    """:func:`kinematics.ik.reach_from_above` to ``pos`` (3,) m at orientation ``R`` with the
    grippers closed: (q (J,), position error (m))."""
    q0 = np.asarray(q_init, dtype=np.float64).copy()
    if len(grip):
        q0[grip] = robot.lower.numpy()[grip]
    return reach_from_above(robot, q0, pos, R, arm)


def push_start_joints(robot, q_init: np.ndarray, object_xyz: np.ndarray, way, gap: float = 0.03) -> np.ndarray:
    """Joint values (J,) that put the tool where a push of an object along ``way`` (dx, dy[,
    dz]) m starts: ``gap`` (m) behind the object's footprint (:func:`object_footprint`, from
    its visible points (P, 3) m) on the line through its centre along the way, at half its
    height (2-4 cm), pointing down with its x axis across the way and the grippers closed:
    a push task's start pose. Solved by inverse kinematics from ``q_init`` (J,).

    Raises ValueError where the way has no horizontal part or the tool cannot get within
    5 mm of that pose (out of reach).
    """
    if not 0 < gap <= 0.2:
        raise InputError(f"push start: gap expected in (0, 0.2] m, got {gap!r}")
    u = np.asarray(way, dtype=np.float64)[:2]
    if float(np.linalg.norm(u)) < 1e-6:
        raise InputError(f"push start: the way {tuple(np.asarray(way).tolist())} m has no horizontal part to push along")
    c, footprint, _, u = object_frame(object_xyz, way)
    top = float(np.max(np.asarray(object_xyz)[:, 2]))
    back = float(((c - footprint) @ u).max())
    start = np.array([*(c - u * (back + gap)), float(np.clip(0.5 * top, 0.02, 0.04))])
    arm, grip = arm_and_grippers(robot)
    q, err = _reach_closed(robot, q_init, start, down_rotation(math.atan2(u[1], u[0]) + math.pi / 2), arm, grip)
    if err > 0.005:
        raise InputError(f"push start: the tool cannot reach {np.round(start, 3).tolist()} m behind the object "
                         f"(inverse kinematics misses by {err * 100:.1f} cm)")
    return q


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


def object_frame(object_xyz: np.ndarray, way) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """:func:`object_footprint`'s centre (2,) and footprint (2P, 2), the footprint's radius
    about the centre (m) and the unit xy direction (2,) of ``way`` (dx, dy[, dz]) m."""
    c, footprint = object_footprint(object_xyz)
    r = float(np.linalg.norm(footprint - c, axis=1).max())
    u = np.asarray(way, dtype=np.float64)[:2]
    return c, footprint, r, u / max(float(np.linalg.norm(u)), 1e-9)


class PushEnv:
    """A push task in the simulator: its world (:class:`pointwm.sim.SimWorld`, the objects
    settled for 1 s with the robot at its start), what the planner sees and what it is asked.

    task: the task; robot: a ``kinematics.RobotModel``; cfg: the task family; T, dt: the
    planner's horizon (steps) and step (s), which the world's motions follow.
    """

    def __init__(self, task: PushTask, robot, cfg: PushConfig, T: int, dt: float) -> None:
        self.task, self.robot, self.cfg = task, robot, cfg
        self.world = SimWorld(task.scene, robot, world_config(cfg, T, dt), task.q_start)
        self.world.step(int(round(SETTLE_S / cfg.physics_dt)))
        self.world.stop()
        self.world.forward()

    @property
    def q(self) -> np.ndarray:
        """(J,) the robot's current joints (rad, m)."""
        return self.world.q

    def object_xy(self) -> np.ndarray:
        """(2,) the pushed object's centre (xy, m)."""
        return self.world.object_xy(self.task.obj)

    def error(self) -> float:
        """Distance (m, xy) from the object's centre to its target."""
        return float(np.linalg.norm(self.object_xy() - np.asarray(self.task.target_xy)))

    def solved(self) -> bool:
        return self.error() <= self.cfg.success_radius

    def way(self) -> tuple[float, float, float]:
        """(dx, dy, 0) m asked of the next plan (:func:`goal_displacement` with the subgoal)."""
        return goal_displacement(self.task.target_xy, self.object_xy(), self.cfg.subgoal)

    def observe(self, rng: np.random.Generator) -> tuple[PointCloud, np.ndarray]:
        """Rendered RGB-D -> (PointCloud of N points, segment (N,) int64 ids) cropped to
        ``cfg.crop`` around object and target; ``rng`` draws the points kept over the cap.
        Raises RuntimeError when the cameras see no scene point."""
        views = self.world.render()
        pts = self.world.points(views, rng)
        if pts is None:
            raise RuntimeError(f"task {self.task.seed}: the cameras see no scene points")
        xyz, col, seg, _, normals = pts
        c = 0.5 * (self.object_xy() + np.asarray(self.task.target_xy))
        half = self.cfg.crop + 0.5 * np.abs(self.object_xy() - np.asarray(self.task.target_xy))
        keep = (np.abs(xyz[:, :2] - c) <= half).all(1)
        cloud = PointCloud(torch.from_numpy(xyz[keep]).float(), torch.from_numpy(col[keep]).float() / 255.0,
                           torch.from_numpy(normals[keep]).float())
        return cloud, seg[keep].astype(np.int64)

    def object_mask(self, seg: np.ndarray) -> Tensor:
        """(N,) bool: the captured points of the pushed object."""
        return torch.from_numpy(seg == self.task.obj + 1)

    def goal(self, cloud: PointCloud, mask: Tensor) -> Goal:
        """The goal of the next plan for a capture whose object points are ``mask`` (N,):
        its visible points moved by :meth:`way` (``goal_match: points``), or their centroid
        (``centroid``)."""
        disp = self.way()
        if self.cfg.goal_match == "centroid":
            seen = cloud.xyz[mask].double().mean(0).numpy()  # (3,) m: the visible points' centroid
            return Goal(mask=mask, centroid=tuple((seen + disp).tolist()))
        return Goal(mask=mask, displacement=disp)


# ---------------------------------------------------------------------- cost terms
def reach_cost(xyz: Tensor, flow: Tensor, robot_flow: Tensor, goal: ResolvedGoal) -> Tensor:
    """(K,) mean over steps 1..T of the distance (m) from the goal points' predicted centroid
    to the nearest robot point: a shaping term that draws the robot to what must move (the
    goal cost is flat until contact, as in pushing). Shapes: xyz (N, 3), flow (K, T, N, 3),
    robot_flow (K, T+1, M, 3), metres."""
    c = (xyz[goal.index] + flow[:, :, goal.index]).mean(2)  # (K, T, 3)
    d = torch.linalg.vector_norm(robot_flow[:, 1:] - c[:, :, None], dim=-1)  # (K, T, M)
    return d.amin(-1).mean(-1)


def approach_cost(xyz: Tensor, flow: Tensor, robot_flow: Tensor, goal: ResolvedGoal,
                  near: float = 0.02) -> Tensor:
    """(K,) mean over steps 1..T of the distance (m) from the nearest robot point to the goal
    points' back: the point on the line through their predicted centroid, along the way they
    still have to go, level with the goal point farthest behind. A shaping term for pushing:
    touching that point and moving along that way pushes them to their targets. Each step
    counts in proportion to the way still to go, up to ``near`` (m) and beyond: nothing is
    owed once they are there. Shapes as :func:`reach_cost`'s."""
    pos = xyz[goal.index] + flow[:, :, goal.index]  # (K, T, G, 3)
    way = goal.to_go(pos).mean(2)  # (K, T, 3)
    length = torch.linalg.vector_norm(way, dim=-1, keepdim=True)
    u = way / length.clamp_min(1e-9)
    c = pos.mean(2)
    behind = ((pos - c[:, :, None]) * u[:, :, None]).sum(-1).amin(-1, keepdim=True)  # (K, T, 1), <= 0
    back = c + u * behind
    d = torch.linalg.vector_norm(robot_flow[:, 1:] - back[:, :, None], dim=-1).amin(-1)  # (K, T)
    return (d * (length[..., 0] / near).clamp(max=1.0)).mean(-1)


COST_TERMS: dict[str, CostTerm] = {
    "reach": lambda c: reach_cost(c.xyz, c.flow, c.rollout.robot_flow, c.goal),
    "approach": lambda c: approach_cost(c.xyz, c.flow, c.rollout.robot_flow, c.goal),
}
"""The push task's shaping terms by name, for ``MPPIPlanner(config, cost_terms=COST_TERMS)``;
each counts with its weight in ``PlannerConfig.weights`` (``reach: 2.0`` in the
``closed_loop`` presets)."""
