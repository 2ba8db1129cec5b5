"""A push task in closed loop: capture, plan, execute, judge.

Each round: render RGB-D from the task's cameras and backproject (:meth:`PushEnv.observe`),
plan with the planner under test from the current joints towards the task's goal, execute
the plan's first ``execute_steps`` targets in the simulator, repeat. Optionally a scripted
repositioning move (:class:`pointwm.tasks.RepositionMove`) replaces planning in rounds where
the tool is not behind the object. Success: the object's centre ends within the task's
``success_radius`` of its target.

What the planner plans with is given per round by ``dynamics_for(env, segment)``: the
learned model (the same every round), the null model (``planning.zero_dynamics``), or the
simulator itself from the current state (``pointwm.sim.SimDynamics``, the oracle).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from planning import Dynamics, shift_sequence
from pointwm.errors import ConfigError
from pointwm.tasks.push import PushEnv
from pointwm.tasks.reposition import RepositionMove

__all__ = ["ClosedLoop", "DynamicsFor", "LoopConfig", "TaskResult", "run_task"]

log = logging.getLogger(__name__)

DynamicsFor = Callable[[PushEnv, np.ndarray], Dynamics]  # (env, segment (N,)) -> this round's dynamics


@dataclass(frozen=True)
class LoopConfig:
    """How the loop runs. execute_steps: plan targets executed before each replan;
    max_replans: rounds per task (a repositioning move counts as one). settle_steps: plan
    steps the robot holds still after each execution before the scene is captured again, so
    that the planner sees a scene at rest (a world model sees positions only, not the velocity
    of an object still sliding from the last push); 0: capture at once. near_radius: within
    this distance (m) of the target, execute only ``near_execute_steps`` per replan (finer
    feedback for the last cm); None: off.
    """

    execute_steps: int = 3
    max_replans: int = 8
    settle_steps: int = 0
    near_radius: float | None = None
    near_execute_steps: int = 1

    def __post_init__(self) -> None:
        for name in ("execute_steps", "near_execute_steps", "max_replans"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ConfigError(f"LoopConfig.{name}: expected an integer >= 1, got {v!r}")
        if not (isinstance(self.settle_steps, int) and self.settle_steps >= 0):
            raise ConfigError(f"LoopConfig.settle_steps: expected an integer >= 0, got {self.settle_steps!r}")
        if self.near_radius is not None and not (isinstance(self.near_radius, int | float) and self.near_radius > 0):
            raise ConfigError(f"LoopConfig.near_radius: expected a distance > 0 (m) or None, got {self.near_radius!r}")


@dataclass
class TaskResult:
    """One task run: success, the final and initial distances (m) of the object's centre to
    its target, replans, each replan's planning time (s) and repositioning moves."""

    seed: int
    planner: str
    success: bool
    final_error_m: float
    initial_error_m: float
    replans: int
    plan_times_s: list[float] = field(default_factory=list)
    repositions: int = 0


class ClosedLoop:
    """One push task in closed loop, a round at a time (:meth:`round`); :func:`run_task`
    runs it to the end.

    env: the task in the simulator; planner: an ``MPPIPlanner`` or ``RandomShootingPlanner``
    with the task's cost terms; dynamics_for: this round's dynamics from the env and the
    capture's segmentation; loop: the loop's settings; move: the scripted repositioning
    move, or None (off). Captures draw from a generator seeded with the task's seed.
    """

    def __init__(self, env: PushEnv, planner, dynamics_for: DynamicsFor, loop: LoopConfig,
                 move: RepositionMove | None = None) -> None:
        self.env, self.planner, self.dynamics_for, self.loop, self.move = env, planner, dynamics_for, loop, move
        self.rng = np.random.default_rng(env.task.seed)
        self.initial_error = env.error()
        self.warm: torch.Tensor | None = None  # (T, J) the last plan's actions shifted past what ran
        self.replans = self.repositions = self.rounds = 0
        self.plan_times: list[float] = []
        self.moved_round = False  # the last round finished a repositioning move
        self.finished = False

    def round(self) -> None:
        """One round: capture; then follow the previous plan (the object out of view), move
        (the scripted move, where it applies) or plan and execute. Sets ``finished`` when
        the object is out of view with no plan to follow, or solved and at rest."""
        env, loop, T = self.env, self.loop, self.planner.config.T
        self.rounds += 1
        cloud, seg = env.observe(self.rng)
        mask = env.object_mask(seg)
        if not bool(mask.any()):
            if self.warm is None:
                log.warning("task %d: the object is out of view", env.task.seed)
                self.finished = True
                return
            # hidden (by the robot, say): carry on along the previous plan and look again
            log.info("task %d: the object is out of view; following the previous plan", env.task.seed)
            env.world.execute(self.warm[: loop.execute_steps].double().numpy())
            self.warm = shift_sequence(self.warm, loop.execute_steps)
            env.world.hold(loop.settle_steps)
            return
        if self.move is not None and not self.moved_round:
            dt = self.planner.config.dt
            path = self.move(env.robot, env.q, cloud.xyz[mask].double().numpy(), env.way(), T, dt)
            if path is not None:
                env.world.execute(path)
                self.warm = None  # the previous plan started from elsewhere
                self.repositions += 1
                # done (not cut; a path of exactly T targets counts as cut): the next round plans
                self.moved_round = len(path) < T
                env.world.hold(loop.settle_steps)
                return
        goal = env.goal(cloud, mask)
        self.moved_round = False
        dynamics = self.dynamics_for(env, seg)
        t0 = time.perf_counter()
        plan = self.planner.plan(dynamics, cloud, env.robot, torch.from_numpy(env.q).float(), goal, warm_start=self.warm)
        self.plan_times.append(time.perf_counter() - t0)
        self.replans += 1
        near = loop.near_radius is not None and env.error() <= loop.near_radius
        n = loop.near_execute_steps if near else loop.execute_steps
        env.world.execute(plan.actions[:n].double().numpy())
        self.warm = plan.shifted(n)
        env.world.hold(loop.settle_steps)
        if env.solved():
            env.world.hold(2)  # done only if it stays there: a shoved object may still be sliding through
            self.finished = env.solved()

    def result(self, name: str) -> TaskResult:
        """The task's outcome, after the objects came to rest (2 more held steps), under the
        planner label ``name``."""
        self.env.world.hold(2)
        err = self.env.error()
        return TaskResult(self.env.task.seed, name, err <= self.env.cfg.success_radius, err, self.initial_error,
                          self.replans, self.plan_times, self.repositions)


def run_task(env: PushEnv, planner, dynamics_for: DynamicsFor, loop: LoopConfig, move: RepositionMove | None = None,
             name: str = "") -> TaskResult:
    """Run a task in closed loop for at most ``loop.max_replans`` rounds (:class:`ClosedLoop`)
    and return its result, labelled ``name``."""
    cl = ClosedLoop(env, planner, dynamics_for, loop, move)
    while cl.rounds < loop.max_replans and not cl.finished:
        cl.round()
    return cl.result(name)
