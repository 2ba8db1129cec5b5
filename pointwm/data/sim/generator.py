"""Simulated clips with exact flows (MuJoCo, headless), and archives of them.

One clip: sample a scene and a motion (from ``(seed, index)`` only, so the same seed gives
the same clips in any order, on any number of workers), let the objects settle with the
robot at its start pose (a scene whose objects still drift after that is redrawn), render
colour + depth + segmentation at t0 from 1-3 cameras, then run the motion for T steps
recording every body's pose. Each backprojected t0 point belongs
to one body (segmentation); its position at step t is ``X_b(t) X_b(0)^-1 p``, exact. Robot
pixels are dropped from the scene (robot flows come from the joints at load time). The world
is ``pointwm.sim.SimWorld``; the motions are scripted (``motion``) or a push planner's
(``task_states``).
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os

import numpy as np
import torch
from tqdm import tqdm

from pointwm.data.archive import ArchiveWriter, Manifest
from pointwm.data.clip import Clip
from pointwm.data.sim.config import GENERATOR_VERSION, SimConfig
from pointwm.data.sim.motion import Motion, plan_probe, plan_push, plan_reach, plan_retreat
from pointwm.data.sim.record import (
    GENERATOR,
    MAX_ATTEMPTS,
    GenerationError,
    assemble_clip,
    clip_key,
    mujoco_source,
)
from pointwm.data.sim.task_states import task_episode_clips, task_state_clip
from pointwm.errors import InputError
from pointwm.sim import SceneSpec, SimWorld, sample_scene, sim_robot

__all__ = ["GenerationError", "generate_archive", "generate_clip"]

log = logging.getLogger(__name__)
STILL_TOLERANCE = 0.002  # m: how far a settled object may drift in a clip's duration untouched


def _max_point_shift(before: np.ndarray, after: np.ndarray, scene: SceneSpec) -> float:
    """Bound (m) on how far any point of any object moved between two (K, 4, 4) pose sets:
    centre shift + rotation angle x the object's bounding radius."""
    shift = 0.0
    for a, b, o in zip(before, after, scene.objects, strict=True):
        R = b[:3, :3] @ a[:3, :3].T
        angle = math.acos(float(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)))
        shift = max(shift, float(np.linalg.norm(b[:3, 3] - a[:3, 3])) + angle * math.hypot(o.radius, o.half_height))
    return shift


def _attempt(rng: np.random.Generator, cfg: SimConfig, robot):
    """One try at a clip; None when the motion is unreachable or the scene is unstable."""
    scene = sample_scene(rng, cfg)
    motion: Motion | None = None
    if rng.uniform() < cfg.push_prob and scene.objects:
        k = int(rng.integers(len(scene.objects)))
        if cfg.probe_prob > 0 and rng.uniform() < cfg.probe_prob:
            motion = plan_probe(robot, rng, scene.objects[k], k, cfg.num_steps, cfg.step_dt)
        elif cfg.retreat_prob > 0 and rng.uniform() < cfg.retreat_prob:
            motion = plan_retreat(robot, rng, scene.objects[k], k, cfg.num_steps, cfg.step_dt)
        else:
            motion = plan_push(robot, rng, scene.objects[k], k, cfg.num_steps, cfg.step_dt,
                               gap=cfg.push_gap, length=cfg.push_length, offset=cfg.push_offset)
    if motion is None:
        motion = plan_reach(robot, rng, cfg.num_steps, cfg.step_dt)
    if motion is None:
        return None
    world = SimWorld(scene, robot, cfg, motion.q[0])
    start = world.object_poses()
    world.step(int(round(cfg.settle_time / cfg.physics_dt)))
    settled = world.object_poses()
    if len(world.bodies) and np.abs(settled[:, :3, 3] - start[:, :3, 3]).max() > 0.01:
        return None  # an object was knocked by the start pose or is unstable
    # At rest means at rest: with the robot holding its start pose for a clip's duration, no
    # object point may move more than STILL_TOLERANCE (a rocking ellipsoid, a rolling cylinder
    # would otherwise move on its own in the clip, which no single frame can predict).
    world.stop()
    world.step(cfg.num_steps * cfg.substeps)
    if len(world.bodies) and _max_point_shift(settled, world.object_poses(), scene) > STILL_TOLERANCE:
        return None
    world.stop()
    world.forward()
    views = world.render()
    X = world.execute(motion.q[1:], record=True)  # (T+1, K, 4, 4)
    pts = world.points(views, rng)
    if pts is None:
        return None
    return scene, motion, views, X, pts


def generate_clip(seed: int, index: int, cfg: SimConfig | None = None) -> Clip:
    """Clip ``index`` of the sequence defined by ``seed`` and ``cfg`` (deterministic)."""
    cfg = cfg or SimConfig()
    if cfg.task_episode:  # the index's clip of its episode (the whole episode is run)
        for i, clip, err in task_episode_clips(cfg, seed, index // cfg.task_episode):
            if i == index:
                if clip is None:
                    raise GenerationError(err)
                return clip
        raise AssertionError(f"task_episode_clips left out clip {index}")  # it covers every index
    robot = sim_robot(cfg.robot)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    if cfg.task_prob > 0 and rng.uniform() < cfg.task_prob:  # no draw at 0: archives unchanged
        for _ in range(MAX_ATTEMPTS):
            clip = task_state_clip(rng, cfg, seed, index)
            if clip is not None:
                return clip
        raise GenerationError(f"clip {index} (seed {seed}): no push-task state in {MAX_ATTEMPTS} attempts")
    attempt, out = 0, None
    while out is None and attempt < MAX_ATTEMPTS:
        out = _attempt(rng, cfg, robot)
        attempt += 1
    if out is None:
        raise GenerationError(f"clip {index} (seed {seed}): no valid scene in {MAX_ATTEMPTS} attempts")
    scene, motion, views, X, pts = out
    moved = np.linalg.norm(X[-1, :, :3, 3] - X[0, :, :3, 3], axis=-1) if X.shape[1] else np.zeros(0)
    provenance = {
        "generator": GENERATOR, "version": GENERATOR_VERSION, "seed": int(seed), "index": int(index),
        "source": mujoco_source(), "attempts": attempt, "motion": motion.kind, "target": motion.target,
        "objects": [o.kind for o in scene.objects], "object_moved_m": [round(float(m), 4) for m in moved],
    }
    return assemble_clip(clip_key(seed, index), cfg, robot, scene, motion.q, views, X, pts, provenance)


# --------------------------------------------------------------------------- archives
def _worker_init() -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    torch.set_num_threads(1)


def _work(args: tuple[int, int, SimConfig]) -> list[tuple[int, Clip | None, str | None]]:
    """One unit of work: clip ``index``, or with ``cfg.task_episode`` E the E clips of
    episode ``index`` (:func:`pointwm.data.sim.task_states.task_episode_clips`)."""
    seed, index, cfg = args
    if cfg.task_episode:
        return task_episode_clips(cfg, seed, index)
    try:
        return [(index, generate_clip(seed, index, cfg), None)]
    except GenerationError as e:
        return [(index, None, str(e))]


def archive_config(seed: int, cfg: SimConfig, clips_per_shard: int) -> dict:
    """What :func:`generate_archive` records in an archive's manifest as the archive's config;
    a resumed run must match it (``ArchiveWriter``)."""
    return {"generator": GENERATOR, "version": GENERATOR_VERSION, "seed": int(seed),
            "clips_per_shard": int(clips_per_shard), "sim": cfg.to_dict()}


def generate_archive(
    out: str | os.PathLike,
    num_clips: int,
    seed: int = 0,
    cfg: SimConfig | None = None,
    workers: int = 1,
    clips_per_shard: int = 32,
    progress: bool = True,
) -> Manifest:
    """Generate clips 0..num_clips-1 of ``seed`` into the archive ``out``; resumable.

    Shard i holds clips [i * clips_per_shard, (i + 1) * clips_per_shard). Shards already
    complete in the manifest are skipped, so an interrupted run continues where it stopped
    and a larger ``num_clips`` extends an archive. Clips that fail to generate are logged
    and left out of their shard (the manifest's clip count says how many it holds).
    """
    cfg = cfg or SimConfig()
    if num_clips < 1 or clips_per_shard < 1 or workers < 1:
        raise InputError(f"num_clips, clips_per_shard and workers must be >= 1, got {num_clips}, {clips_per_shard}, {workers}")
    writer = ArchiveWriter(out, archive_config(seed, cfg, clips_per_shard))
    n_shards = math.ceil(num_clips / clips_per_shard)
    done = writer.completed()
    existing = {s.index: s for s in writer.manifest().shards}
    todo, skipped = [], 0
    for i in range(n_shards):
        lo, hi = i * clips_per_shard, min((i + 1) * clips_per_shard, num_clips)
        if i in done and existing[i].span == hi - lo:
            skipped += hi - lo
        else:
            todo.append((i, lo, hi))
    if skipped:
        log.info("resuming: %d clip indices already done in %s", skipped, out)
    wanted = {idx for _, lo, hi in todo for idx in range(lo, hi)}
    if cfg.task_episode:  # one unit per episode: clips e*E .. e*E+E-1 of task e
        E = cfg.task_episode
        tasks = [(seed, e, cfg) for e in sorted({idx // E for idx in wanted})]
    else:
        tasks = [(seed, idx, cfg) for idx in sorted(wanted)]
    pending: dict[int, dict[int, Clip | None]] = {i: {} for i, _, _ in todo}
    bounds = {i: (lo, hi) for i, lo, hi in todo}
    bar = tqdm(total=num_clips, initial=skipped, unit="clip", desc="generate", disable=not progress, smoothing=0.1)
    failures = 0

    def consume(units):
        nonlocal failures
        for index, clip, err in (r for unit in units for r in unit if r[0] in wanted):
            if err is not None:
                failures += 1
                log.warning("%s", err)
            shard = index // clips_per_shard
            pending[shard][index] = clip
            lo, hi = bounds[shard]
            if len(pending[shard]) == hi - lo:
                clips = [pending[shard][j] for j in range(lo, hi) if pending[shard][j] is not None]
                if clips:
                    writer.write_shard(shard, clips, span=hi - lo)
                del pending[shard]
            bar.update(1)

    try:
        if workers == 1:
            _worker_init()
            consume(map(_work, tasks))
        else:
            ctx = mp.get_context("spawn")  # EGL contexts and torch threads do not survive fork
            with ctx.Pool(workers, initializer=_worker_init) as pool:
                consume(pool.imap(_work, tasks, chunksize=1))
    finally:
        bar.close()
    if failures:
        log.warning("%d clip(s) could not be generated and were left out", failures)
    return writer.manifest()
