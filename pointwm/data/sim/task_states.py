"""Clips from the states a closed-loop push planner visits (``SimConfig.task_prob``).

A world model that plans pushes is asked, at every replan, to rank the planner's sampled
candidates from the scene the last execution left: the tool at or beside the object, the
object turned or still sliding. Random scenes and scripted pushes cover that distribution
only by chance. A task-state clip is drawn from it directly:

1. a push task as ``pointwm eval-plan`` makes them (:func:`pointwm.tasks.push.make_task`),
   with a task seed of at least ``TASK_SEED_BASE``, so never one that evaluation uses;
2. MPPI (the ``closed_loop`` planner preset) drives the task for 0-3 replans of
   ``execute_steps`` each, then the robot holds still 0-2 steps. Its model, the driver
   (``SimConfig.task_driver``), is the no-motion model (``zero_dynamics``) by default, or a
   world-model checkpoint: then the states and candidates are those of the learned planner
   itself (DAgger-style data for the next model), at the cost of a model rollout per replan;
3. at that state the cameras render t0, the same planner samples candidates once more, and
   one of them (its plan, or any of its samples, with equal probability) runs for T steps
   while every body's pose is recorded.

With ``SimConfig.task_episode`` E >= 1, a task instead yields E clips: it is driven from its
start as ``eval-plan`` runs it, and at each of E replans step 3 records a candidate from a
snapshot of the simulator, which is restored before the plan's first steps run
(:func:`task_episode_clips`). One plan per clip, and the states near the end of a task too.

The simulator is the task's (``pointwm.tasks.push.PushEnv``: two fixed cameras, 128 x 96
pixels, physics step 0.004 s), so the clips show exactly what the planner sees; ``SimConfig``
supplies the robot, T and the step length. The planner executes ``EXECUTE_STEPS`` targets
per replan, as ``eval-plan``'s loop does by default.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import torch

from planning import MPPIPlanner, PlannerConfig, Rollout, world_model_dynamics, zero_dynamics
from pointwm.data.clip import Clip
from pointwm.data.sample import robot_by_name
from pointwm.data.sim.config import GENERATOR_VERSION, SimConfig
from pointwm.data.sim.record import GENERATOR, MAX_ATTEMPTS, assemble_clip, clip_key, mujoco_source
from pointwm.errors import InputError
from pointwm.model import WorldModel
from pointwm.sim import sim_robot
from pointwm.tasks.push import COST_TERMS, PushConfig, PushEnv, make_task

__all__ = ["TASK_SEED_BASE", "TaskState", "drive_task", "plan_at", "record", "start_task", "task_episode_clips",
           "task_state_clip"]

TASK_SEED_BASE = 1_000_000  # task seeds drawn here are >= this; eval-plan's are far below it
MAX_DRIVE_REPLANS = 3
MAX_HOLD_STEPS = 2
EXECUTE_STEPS = 3  # plan targets executed per replan (eval-plan's default loop)


class _Recorder:
    """Planning dynamics that keeps every candidate joint path it is asked to roll out: it
    stores each rollout's actions ``q[:, 1:]`` (K, T, J) rad/m and returns the wrapped
    dynamics' (K, T, N, 3) m."""

    def __init__(self, dynamics) -> None:
        self.dynamics = dynamics
        self.q: list[torch.Tensor] = []

    def __call__(self, scene, rollout: Rollout):
        self.q.append(rollout.q[:, 1:].float())
        return self.dynamics(scene, rollout)


@functools.lru_cache(maxsize=2)
def _driver_model(path: str):
    """The world model of checkpoint ``path`` (loaded once per process)."""
    return WorldModel.load(path)


def _driver(cfg: SimConfig):
    """(planning dynamics, planning robot) of the driver ``cfg.task_driver``: the no-motion
    model with the simulator's robot points, or a checkpoint's world model with the robot
    points of the robot's YAML (as ``pointwm eval-plan`` plans)."""
    if not cfg.task_driver:
        return zero_dynamics, sim_robot(cfg.robot)
    return world_model_dynamics(_driver_model(cfg.task_driver)), robot_by_name(cfg.robot)


@dataclass
class TaskState:
    """A push task's simulator at a state its closed-loop planner reaches (:func:`drive_task`)."""

    env: PushEnv
    planner: MPPIPlanner  # the closed_loop preset with the push task's cost terms
    dynamics: object  # what the planner plans with (the driver)
    warm: torch.Tensor | None  # (T, J) rad/m: the last plan's actions shifted past the executed steps
    info: dict  # task_seed, drive_replans, hold_steps


def start_task(rng: np.random.Generator, cfg: SimConfig) -> TaskState | None:
    """Step 1 of the module docstring: a fresh task at its start, with its driver's planner;
    None when the drawn task has no reachable start."""
    dynamics, robot = _driver(cfg)
    tcfg = PushConfig(robot=cfg.robot)
    T, dt = cfg.num_steps, cfg.step_dt
    task_seed = TASK_SEED_BASE + int(rng.integers(0, 2**30))
    try:
        task = make_task(task_seed, tcfg, robot, T, dt)
    except RuntimeError:
        return None
    env = PushEnv(task, robot, tcfg, T, dt)
    pcfg = replace(PlannerConfig.from_yaml("closed_loop"), T=T, dt=dt, seed=int(rng.integers(0, 2**31)))
    return TaskState(env, MPPIPlanner(pcfg, cost_terms=COST_TERMS), dynamics, None, {"task_seed": task_seed})


def drive_task(rng: np.random.Generator, cfg: SimConfig) -> TaskState | None:
    """Steps 1-2 of the module docstring; None when the drawn task has no reachable start or
    its object leaves the cameras' view."""
    state = start_task(rng, cfg)
    if state is None:
        return None
    drive = int(rng.integers(0, MAX_DRIVE_REPLANS + 1))
    for _ in range(drive):
        p = plan_at(state, state.dynamics, rng)
        if p is None:
            return None
        _advance(state, p)
    hold = int(rng.integers(0, MAX_HOLD_STEPS + 1))
    state.env.world.hold(hold)
    state.info.update(drive_replans=drive, hold_steps=hold)
    return state


def _advance(state: TaskState, plan) -> None:
    """Execute the plan's first ``execute_steps`` targets and keep the rest as the warm start."""
    state.env.world.execute(plan.actions[:EXECUTE_STEPS].double().numpy())
    state.warm = plan.shifted(EXECUTE_STEPS)


def plan_at(state: TaskState, dynamics, rng: np.random.Generator):
    """The planner's Plan from the current state (a fresh capture, the task's goal), or None
    when the object is out of view."""
    env = state.env
    cloud, seg = env.observe(rng)
    mask = env.object_mask(seg)
    if not bool(mask.any()):
        return None
    return state.planner.plan(dynamics, cloud, env.robot, torch.from_numpy(env.q).float(), env.goal(cloud, mask),
                              warm_start=state.warm)


def record(state: TaskState, actions: np.ndarray, rng: np.random.Generator, key: str, provenance: dict) -> Clip | None:
    """Render t0, run ``actions`` (T, J) joint targets (rad, m) one step at a time from the
    current joints, recording every body's pose, and return the clip keyed ``key`` (None when
    the cameras see no scene points)."""
    env = state.env
    views = env.world.render()
    pts = env.world.points(views, rng)
    if pts is None:
        return None
    q = np.concatenate([env.q[None], np.asarray(actions, dtype=np.float64)], axis=0)
    X = env.world.execute(q[1:], record=True)  # (T+1, K, 4, 4)
    moved = np.linalg.norm(X[-1, :, :3, 3] - X[0, :, :3, 3], axis=-1)
    provenance = {**provenance, "target": [round(float(v), 4) for v in env.task.target_xy],
                  "objects": [o.kind for o in env.task.scene.objects],
                  "object_moved_m": [round(float(m), 4) for m in moved]}
    return assemble_clip(key, env.world.cfg, env.robot, env.task.scene, q, views, X, pts, provenance)


def _plan_and_candidate(state: TaskState, rng: np.random.Generator):
    """(plan, candidate actions (T, J), "plan" | "sample") from the current state: the plan,
    or any sample the planner weighed, with equal probability; None when the object is out
    of view."""
    recorder = _Recorder(state.dynamics)
    p = plan_at(state, recorder, rng)
    if p is None:
        return None
    samples = torch.cat(recorder.q)  # (iterations * K, T, J): every candidate it weighed
    use_plan = bool(rng.uniform() < 0.5)
    actions = p.actions if use_plan else samples[int(rng.integers(len(samples)))]
    return p, actions.double().numpy(), "plan" if use_plan else "sample"


def _provenance(cfg: SimConfig, seed: int, index: int, info: dict, candidate: str) -> dict:
    provenance = {"generator": GENERATOR, "version": GENERATOR_VERSION, "seed": int(seed), "index": int(index),
                  "source": mujoco_source(), "motion": "task", **info, "candidate": candidate}
    if cfg.task_driver:
        provenance["driver"] = cfg.task_driver
    return provenance


def task_state_clip(rng: np.random.Generator, cfg: SimConfig, seed: int, index: int) -> Clip | None:
    """One clip from a state of a closed-loop push task (module docstring); None when the
    drawn task has no reachable start or its object leaves the cameras' view."""
    state = drive_task(rng, cfg)
    if state is None:
        return None
    out = _plan_and_candidate(state, rng)
    if out is None:
        return None
    _, actions, candidate = out
    return record(state, actions, rng, clip_key(seed, index), _provenance(cfg, seed, index, state.info, candidate))


def task_episode_clips(cfg: SimConfig, seed: int, episode: int) -> list[tuple[int, Clip | None, str | None]]:
    """Clips ``episode * E .. episode * E + E - 1`` (E = ``cfg.task_episode``): one task
    driven from its start for E replans, a clip recorded at each (``SimConfig.task_episode``).

    Returns (index, clip, None) for each recorded clip and (index, None, reason) for each
    that could not be (the object left the cameras' view, which ends the episode).
    Deterministic in (seed, episode, E); at most ``MAX_ATTEMPTS`` (the generator's) tasks
    are drawn until one has a reachable start.
    """
    E = cfg.task_episode
    if E < 1:
        raise InputError(f"task_episode_clips: SimConfig.task_episode must be >= 1, got {E}")
    first = episode * E
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(episode), E, 0xE915]))
    for _ in range(MAX_ATTEMPTS):
        state = start_task(rng, cfg)
        if state is not None:
            break
    else:
        return [(i, None, f"clip {i} (seed {seed}): episode {episode} found no push task with a reachable start "
                 f"in {MAX_ATTEMPTS} attempts") for i in range(first, first + E)]
    out: list[tuple[int, Clip | None, str | None]] = []
    for r in range(E):
        index = first + r
        got = _plan_and_candidate(state, rng)
        if got is None:
            out += [(i, None, f"clip {i} (seed {seed}): episode {episode} ended at replan {r}: its object left "
                     "the cameras' view") for i in range(index, first + E)]
            break
        plan, actions, candidate = got
        snap = state.env.world.snapshot()
        pos = state.env.world.data.xpos[state.env.world.bodies[state.env.task.obj]]
        info = {**state.info, "episode": int(episode), "replan": r, "object": int(state.env.task.obj),
                "object_pos": [round(float(v), 6) for v in pos]}
        clip = record(state, actions, rng, clip_key(seed, index), _provenance(cfg, seed, index, info, candidate))
        state.env.world.restore(snap)
        out.append((index, clip, None if clip is not None else f"clip {index} (seed {seed}): the cameras see no scene points"))
        _advance(state, plan)
    return out
