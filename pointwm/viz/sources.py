"""Open anything ``pointwm viz`` can show as a ``FlowScene``.

Accepted inputs (``open_source``):

- a capture directory (``capture.json`` or ``camera.json`` inside): the fused scene cloud,
  no robot and no flow;
- an archive directory (``manifest.json`` inside) with a clip chosen by ``ARCHIVE#clip_key``
  or ``clip=INDEX`` (default the first clip): the t0 cloud, the robot's points from forward
  kinematics, and the recorded motion as the ground-truth flow;
- a prediction bundle (``.npz`` written by ``save_prediction``);
- a plan (``.json``) that names its bundle under ``"prediction"`` (a path, relative to the
  JSON's folder or absolute), or has one beside it: the same stem (``plan.npz``),
  ``flow.npz`` (what ``pointwm plan`` writes) or ``prediction.npz``. The plan's small JSON
  fields (cost, goal ...) are added to the scene's ``meta``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from capture import frames_to_cloud, load_capture
from pointwm.data.archive import iter_shard, read_manifest
from pointwm.data.sample import clip_to_sample
from pointwm.viz.bundle import FlowScene, VizInputError, load_prediction

__all__ = ["EXPECTED_INPUTS", "open_source"]

log = logging.getLogger(__name__)

EXPECTED_INPUTS = ("a capture directory (capture.json or camera.json inside), an archive "
                   "directory (manifest.json; pick a clip with ARCHIVE#clip_key or --clip), a "
                   "prediction bundle (.npz from save_prediction) or a plan (.json naming its .npz)")

PLAN_KEYS = ("prediction", "prediction_path", "bundle")


def open_source(path: str | os.PathLike, clip: int | str | None = None,
                num_robot_points: int = 500) -> FlowScene:
    """The ``FlowScene`` of ``path`` (see the module docstring for what it may be).

    clip:             archive clip index (int) or key (str); ``ARCHIVE#key`` also works.
    num_robot_points: M, robot surface points for archive clips.

    Raises ``FileNotFoundError`` for a missing path and ``VizInputError`` naming the path
    and the accepted inputs for anything else.
    """
    text = os.fspath(path)
    if "#" in text and not Path(text).exists():
        text, key = text.rsplit("#", 1)
        if clip is not None and str(clip) != key:
            raise VizInputError(f"{path}: clip given twice ({key!r} in the path and {clip!r})")
        clip = key
    p = Path(text)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or directory (expected {EXPECTED_INPUTS})")
    if p.is_dir():
        if (p / "manifest.json").is_file():
            return _open_clip(p, clip, num_robot_points)
        if (p / "capture.json").is_file() or (p / "camera.json").is_file():
            return _open_capture(p)
        raise VizInputError(f"{p}: directory is neither a capture nor an archive; expected {EXPECTED_INPUTS}")
    if clip is not None:
        raise VizInputError(f"{p}: a clip ({clip!r}) was asked for, but only archive directories have clips")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return load_prediction(p)
    if suffix == ".json":
        return _open_json(p)
    raise VizInputError(f"{p}: unsupported file type {p.suffix or '(no suffix)'!r}; expected {EXPECTED_INPUTS}")


def _open_capture(directory: Path) -> FlowScene:
    frames = load_capture(directory)
    cloud = frames_to_cloud(frames, normals=False)
    log.info("%s: %d camera(s) -> %d points", directory, len(frames), len(cloud))
    return FlowScene.build(cloud, name=directory.name, meta={"source": str(directory), "kind": "capture"})


def _open_clip(root: Path, clip: int | str | None, num_robot_points: int) -> FlowScene:
    manifest = read_manifest(root)
    if manifest.num_clips == 0:
        raise VizInputError(f"{root}: archive has no clips")
    if clip is None:
        clip = 0
    if isinstance(clip, str) and clip.lstrip("-").isdigit():
        clip = int(clip)
    found = None
    if isinstance(clip, int):
        if not 0 <= clip < manifest.num_clips:
            raise VizInputError(f"{root}: clip index {clip} out of range (archive has {manifest.num_clips} clips)")
        start = 0
        for shard in manifest.shards:
            if clip < start + shard.clips:
                for i, c in enumerate(iter_shard(manifest.path(shard), shard)):
                    if start + i == clip:
                        found = c
                        break
                break
            start += shard.clips
    else:
        for shard in manifest.shards:
            found = next((c for c in iter_shard(manifest.path(shard), shard) if c.key == clip), None)
            if found is not None:
                break
    if found is None:
        raise VizInputError(f"{root}: no clip {clip!r} in the archive")
    robot_flow = None
    try:
        robot_flow = clip_to_sample(found, num_robot_points).robot_points.numpy()
    except (ValueError, OSError) as e:  # unknown robot etc.: show the scene anyway
        log.warning("%s#%s: no robot points (%s)", root, found.key, e)
    return FlowScene.build(
        found.xyz, robot_flow, gt_flow=found.flow, scene_color=found.colors,
        name=f"{root.name}#{found.key}",
        meta={"source": str(root), "kind": "clip", "clip": found.key, "robot": found.robot,
              "dt": float(found.dt)},
    )


def _open_json(path: Path) -> FlowScene:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VizInputError(f"{path}: unreadable JSON ({e}); expected {EXPECTED_INPUTS}") from None
    if not isinstance(data, dict):
        raise VizInputError(f"{path}: JSON is not an object; expected {EXPECTED_INPUTS}")
    fmt = str(data.get("format", ""))
    if fmt in ("pointwm-capture", "pointwm-camera"):
        return _open_capture(path.parent)
    bundle = next((data[k] for k in PLAN_KEYS if isinstance(data.get(k), str)), None)
    if bundle is not None:
        bundle = Path(bundle)
        bundle = bundle if bundle.is_absolute() else path.parent / bundle
    else:
        beside = [path.with_suffix(".npz"), path.parent / "flow.npz", path.parent / "prediction.npz"]
        bundle = next((b for b in beside if b.is_file()), None)
        if bundle is None:
            raise VizInputError(f"{path}: JSON names no prediction bundle (no {'/'.join(PLAN_KEYS)} key and none "
                                f"of {[b.name for b in beside]} beside it); expected {EXPECTED_INPUTS}")
    if not bundle.is_file():
        raise VizInputError(f"{path}: its prediction bundle {str(bundle)!r} does not exist")
    fs = load_prediction(bundle)
    extra = {k: v for k, v in data.items() if k not in PLAN_KEYS and _jsonable(v)}
    meta = {**dict(fs.meta), "plan": str(path), **{f"plan_{k}" if k in fs.meta else k: v for k, v in extra.items()}}
    return FlowScene.build(fs.xyz, fs.robot_flow, fs.pred_flow, fs.gt_flow, fs.goal_idx, fs.goal_targets,
                           scene_color=fs.color, name=path.name, meta=meta)


def _jsonable(v) -> bool:
    """Small JSON values only (a plan's summary fields, not its arrays)."""
    return isinstance(v, (str, int, float, bool)) or v is None or (
        isinstance(v, (list, dict)) and len(json.dumps(v)) < 2000)
