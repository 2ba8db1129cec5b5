"""Simulated clips with exact flows (MuJoCo, headless), and archives of them.

One clip: sample a scene and a motion (from ``(seed, index)`` only, so the same seed gives
the same clips in any order, on any number of workers), let the objects settle with the
robot at its start pose (a scene whose objects still drift after that is redrawn), render
colour + depth + segmentation at t0 from 1-3 cameras, then run the motion for T steps
recording every body's pose. Each backprojected t0 point belongs
to one body (segmentation); its position at step t is ``X_b(t) X_b(0)^-1 p``, exact. Robot
pixels are dropped from the scene (robot flows come from the joints at load time).
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing as mp
import os
from collections.abc import Sequence

import numpy as np
import torch

from pointwm.data.archive import ArchiveWriter, Manifest
from pointwm.data.clip import CameraView, Clip
from pointwm.data.sim.config import GENERATOR_VERSION, SimConfig
from pointwm.data.sim.motion import Motion, plan_probe, plan_push, plan_reach, plan_retreat
from pointwm.data.sim.scene import SEG_BACKGROUND, SEG_ROBOT, SceneSpec, build_mjcf, sample_scene

__all__ = ["GenerationError", "generate_archive", "generate_clip", "render_views", "scene_points"]

log = logging.getLogger(__name__)
GENERATOR = "pointwm.data.sim"
MAX_ATTEMPTS = 12
STILL_TOLERANCE = 0.002  # m: how far a settled object may drift in a clip's duration untouched


class GenerationError(RuntimeError):
    """A clip could not be generated (e.g. no reachable motion in MAX_ATTEMPTS scenes)."""


@functools.lru_cache(maxsize=4)
def sim_robot(name: str):
    """Robot ``name`` as the simulator's motion checks use it: its surface points drawn by
    area over all links, whatever density its YAML asks of the world model's input
    (``dense_links``), so that archives and push tasks do not change with that setting."""
    from kinematics import load_robot

    return load_robot(name, dense_links=(), dense_fraction=0.0)


def clip_key(seed: int, index: int) -> str:
    return f"sim-s{seed}-{index:08d}"


def _pose(pos, quat) -> np.ndarray:
    import mujoco

    T = np.eye(4)
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, np.asarray(quat, dtype=np.float64))
    T[:3, :3], T[:3, 3] = R.reshape(3, 3), pos
    return T


def _object_poses(data, body_ids: Sequence[int]) -> np.ndarray:
    """(K, 4, 4) world poses of the object bodies."""
    return np.stack([_pose(data.xpos[b], data.xquat[b]) for b in body_ids]) if body_ids else np.zeros((0, 4, 4))


def _max_point_shift(before: np.ndarray, after: np.ndarray, scene: SceneSpec) -> float:
    """Bound (m) on how far any point of any object moved between two (K, 4, 4) pose sets:
    centre shift + rotation angle x the object's bounding radius."""
    shift = 0.0
    for a, b, o in zip(before, after, scene.objects, strict=True):
        R = b[:3, :3] @ a[:3, :3].T
        angle = math.acos(float(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)))
        shift = max(shift, float(np.linalg.norm(b[:3, 3] - a[:3, 3])) + angle * math.hypot(o.radius, o.half_height))
    return shift


def _set_robot(model, data, link_poses: np.ndarray, mocap_ids: np.ndarray) -> None:
    import mujoco

    for k, T in enumerate(link_poses):
        data.mocap_pos[mocap_ids[k]] = T[:3, 3]
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, np.ascontiguousarray(T[:3, :3]).reshape(9))
        data.mocap_quat[mocap_ids[k]] = q


def render_views(model, data, scene: SceneSpec, cfg: SimConfig, geom_segment: np.ndarray) -> list[dict]:
    """Per camera: rgb (H, W, 3) uint8, depth (H, W) float32 m (0 = none), seg (H, W) int32."""
    import mujoco

    out = []
    renderer = mujoco.Renderer(model, cfg.height, cfg.width)
    try:
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
            renderer.scene.flags[flag] = 0
        for i in range(len(scene.cameras)):
            renderer.update_scene(data, camera=f"cam{i}")
            rgb = renderer.render().copy()
            renderer.enable_depth_rendering()
            renderer.update_scene(data, camera=f"cam{i}")
            depth = renderer.render().astype(np.float32)
            renderer.disable_depth_rendering()
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera=f"cam{i}")
            ids = renderer.render()
            renderer.disable_segmentation_rendering()
            geom = np.where(ids[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM), ids[..., 0], -1)
            seg = np.where(geom >= 0, geom_segment[np.clip(geom, 0, None)], SEG_BACKGROUND).astype(np.int32)
            depth = np.where(seg == SEG_BACKGROUND, 0.0, depth).astype(np.float32)
            out.append({"rgb": rgb, "depth": depth, "seg": seg})
    finally:
        renderer.close()
    return out


def scene_points(views: list[dict], scene: SceneSpec, cfg: SimConfig, rng: np.random.Generator):
    """Fused, cropped, voxelised t0 scene points (robot pixels excluded).

    Returns xyz (N, 3) float64, colors (N, 3) uint8, segment (N,) int16, camera (N,) int16,
    normals (N, 3) float32. One representative point per voxel: the pixel point nearest the
    voxel centre (exact ground truth: it belongs to one body).
    """
    from capture import Intrinsics, Workspace, backproject
    from pointwm.geometry import look_at

    ws = Workspace(cfg.workspace_lo, cfg.workspace_hi)
    xyz, col, seg, cam = [], [], [], []
    for i, (v, c) in enumerate(zip(views, scene.cameras, strict=True)):
        intr = Intrinsics.from_fov(cfg.width, cfg.height, c.fov_deg)
        keep = (v["seg"] != SEG_ROBOT) & (v["seg"] != SEG_BACKGROUND)
        depth = np.where(keep, v["depth"], 0.0).astype(np.float32)
        cloud = backproject(torch.from_numpy(depth), intr, look_at(c.eye, c.target), v["rgb"])
        flat = depth.reshape(-1)
        valid = (flat > 0) & (flat <= 10.0)  # backproject's rule, same row-major order
        inside = ws.contains(cloud.xyz).numpy()
        xyz.append(cloud.xyz.numpy().astype(np.float64)[inside])
        col.append(v["rgb"].reshape(-1, 3)[valid][inside])
        seg.append(v["seg"].reshape(-1)[valid][inside])
        cam.append(np.full(int(inside.sum()), i, np.int16))
    xyz, col, seg, cam = (np.concatenate(a) for a in (xyz, col, seg, cam))
    if len(xyz) == 0:
        return None
    vs = cfg.voxel_size
    grid = np.floor((xyz + vs / 2) / vs).astype(np.int64)  # capture's grid: centres at k * vs
    _, inverse = np.unique(grid, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    d = np.linalg.norm(xyz - grid * vs, axis=1)
    order = np.lexsort((d, inverse))
    first = order[np.r_[True, inverse[order][1:] != inverse[order][:-1]]]
    if len(first) > cfg.max_points:
        first = np.sort(rng.choice(first, cfg.max_points, replace=False))
    xyz, col, seg, cam = xyz[first], col[first], seg[first], cam[first]
    normals = _normals(xyz, cam, scene)
    return xyz, col, seg.astype(np.int16), cam, normals


def _normals(xyz: np.ndarray, cam: np.ndarray, scene: SceneSpec) -> np.ndarray:
    """Unit PCA normals (``capture.estimate_normals``) oriented towards each point's camera."""
    from capture import estimate_normals
    from pointwm.geometry import PointCloud

    n = estimate_normals(PointCloud(torch.from_numpy(xyz.astype(np.float32)))).normals.numpy()
    eyes = np.array([c.eye for c in scene.cameras])[cam]
    flip = ((eyes - xyz) * n).sum(-1) < 0
    return np.where(flip[:, None], -n, n).astype(np.float32)


def _attempt(rng: np.random.Generator, cfg: SimConfig, robot):
    """One try at a clip; None when the motion is unreachable or the scene is unstable."""
    import mujoco

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
    xml, links = build_mjcf(scene, robot, cfg)
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    link_idx = [robot.link_names.index(n) for n in links]
    mocap_ids = np.array([model.body_mocapid[model.body(f"robot_{k}").id] for k in range(len(links))])
    obj_bodies = [model.body(f"obj_{k}").id for k in range(len(scene.objects))]
    geom_segment = np.zeros(model.ngeom, dtype=np.int32)
    for g in range(model.ngeom):
        b = int(model.geom_bodyid[g])
        geom_segment[g] = (obj_bodies.index(b) + 1) if b in obj_bodies else SEG_ROBOT if model.body_mocapid[b] >= 0 else 0
    # Joint path at every physics step: linear between clip steps, FK in one batch.
    S = cfg.substeps
    q = motion.q
    frac = np.arange(1, S + 1) / S
    q_fine = (q[:-1, None] + frac[None, :, None] * (q[1:] - q[:-1])[:, None]).reshape(-1, q.shape[1])
    poses0 = robot.link_poses(torch.from_numpy(q[:1]), validate=False)[0, link_idx].numpy()
    poses = robot.link_poses(torch.from_numpy(q_fine), validate=False)[:, link_idx].numpy()
    _set_robot(model, data, poses0, mocap_ids)
    mujoco.mj_forward(model, data)
    start = _object_poses(data, obj_bodies)
    for _ in range(int(round(cfg.settle_time / cfg.physics_dt))):
        mujoco.mj_step(model, data)
    settled = _object_poses(data, obj_bodies)
    if len(obj_bodies) and np.abs(settled[:, :3, 3] - start[:, :3, 3]).max() > 0.01:
        return None  # an object was knocked by the start pose or is unstable
    # At rest means at rest: with the robot holding its start pose for a clip's duration, no
    # object point may move more than STILL_TOLERANCE (a rocking ellipsoid, a rolling cylinder
    # would otherwise move on its own in the clip, which no single frame can predict).
    data.qvel[:] = 0
    for _ in range(cfg.num_steps * S):
        mujoco.mj_step(model, data)
    if len(obj_bodies) and _max_point_shift(settled, _object_poses(data, obj_bodies), scene) > STILL_TOLERANCE:
        return None
    data.qvel[:] = 0
    mujoco.mj_forward(model, data)
    views = render_views(model, data, scene, cfg, geom_segment)
    X = [_object_poses(data, obj_bodies)]
    for t in range(cfg.num_steps):
        for s in range(S):
            _set_robot(model, data, poses[t * S + s], mocap_ids)
            mujoco.mj_step(model, data)
        X.append(_object_poses(data, obj_bodies))
    X = np.stack(X)  # (T+1, K, 4, 4)
    pts = scene_points(views, scene, cfg, rng)
    if pts is None:
        return None
    return scene, motion, views, X, pts


def generate_clip(seed: int, index: int, cfg: SimConfig | None = None) -> Clip:
    """Clip ``index`` of the sequence defined by ``seed`` and ``cfg`` (deterministic)."""
    cfg = cfg or SimConfig()
    if cfg.task_episode:  # the index's clip of its episode (the whole episode is run)
        from pointwm.data.sim.task_states import task_episode_clips

        for i, clip, err in task_episode_clips(cfg, seed, index // cfg.task_episode):
            if i == index:
                if clip is None:
                    raise GenerationError(err)
                return clip
        raise AssertionError(f"task_episode_clips left out clip {index}")  # it covers every index
    robot = sim_robot(cfg.robot)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    if cfg.task_prob > 0 and rng.uniform() < cfg.task_prob:  # no draw at 0: archives unchanged
        from pointwm.data.sim.task_states import task_state_clip

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


def mujoco_source() -> str:
    import mujoco

    return f"mujoco {mujoco.__version__}"


def assemble_clip(key: str, cfg: SimConfig, robot, scene: SceneSpec, q: np.ndarray, views: list[dict],
                  X: np.ndarray, pts: tuple, provenance: dict) -> Clip:
    """A checked ``Clip`` from one simulated run: joint path q (T+1, J), the t0 ``views``
    (:func:`render_views`), object poses X (T+1, K, 4, 4) and the t0 points ``pts``
    (:func:`scene_points`). Each point of body k moves with ``X_k(t) X_k(0)^-1``."""
    xyz, col, seg, cam, normals = pts
    T1 = q.shape[0]
    points = np.repeat(xyz[None], T1, axis=0)
    for k in range(X.shape[1]):
        m = seg == k + 1
        if m.any():
            rel = X[:, k] @ np.linalg.inv(X[0, k])  # (T+1, 4, 4): t0 frame -> step t
            points[:, m] = np.einsum("tij,nj->tni", rel[:, :3, :3], xyz[m]) + rel[:, None, :3, 3]
    grip = [robot.joint_names.index(n) for n in robot.gripper_joint_names]
    lo, hi = robot.lower.numpy(), robot.upper.numpy()
    gripper = (q[:, grip] - lo[grip]) / np.maximum(hi[grip] - lo[grip], 1e-9) if grip else np.ones((T1, 1))
    cams = tuple(
        CameraView(f"cam{i}", v["rgb"], v["depth"],
                   _intrinsics_K(cfg, c.fov_deg), _T_world_cam(c), v["seg"])
        for i, (v, c) in enumerate(zip(views, scene.cameras, strict=True))
    )
    return Clip(
        key=key,
        robot=cfg.robot,
        joint_names=tuple(robot.joint_names),
        q=q.astype(np.float32),
        gripper=gripper.mean(axis=1).astype(np.float32),
        points=points.astype(np.float32),
        colors=col.astype(np.uint8),
        normals=normals,
        valid=np.ones(len(xyz), bool),
        visible=np.ones((T1, len(xyz)), bool),
        point_camera=cam,
        segment=seg,
        cameras=cams,
        dt=cfg.step_dt,
        provenance=provenance,
    ).check()


def _intrinsics_K(cfg: SimConfig, fov_deg: float) -> np.ndarray:
    from capture import Intrinsics

    return Intrinsics.from_fov(cfg.width, cfg.height, fov_deg).K.numpy()


def _T_world_cam(c) -> np.ndarray:
    from pointwm.geometry import look_at

    return look_at(c.eye, c.target).numpy()


# --------------------------------------------------------------------------- archives
def _worker_init() -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    torch.set_num_threads(1)


def _work(args: tuple[int, int, SimConfig]) -> list[tuple[int, Clip | None, str | None]]:
    """One unit of work: clip ``index``, or with ``cfg.task_episode`` E the E clips of
    episode ``index`` (:func:`pointwm.data.sim.task_states.task_episode_clips`)."""
    seed, index, cfg = args
    if cfg.task_episode:
        from pointwm.data.sim.task_states import task_episode_clips

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
    from tqdm import tqdm

    cfg = cfg or SimConfig()
    if num_clips < 1 or clips_per_shard < 1 or workers < 1:
        raise ValueError(f"num_clips, clips_per_shard and workers must be >= 1, got {num_clips}, {clips_per_shard}, {workers}")
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
