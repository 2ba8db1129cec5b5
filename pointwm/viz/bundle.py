"""What the viewer and the static renders draw: plain arrays, and their on-disk bundle.

``FlowScene`` holds a scene cloud, the robot's points over time, a predicted and an optional
ground-truth scene flow, and optional goal points. Every source (a capture, an archive clip,
a world-model prediction, a plan) is turned into one; every picture is drawn from one.

The prediction bundle is one ``.npz`` file (written atomically, no pickles) with these keys:

=================  ==============  =======================================================
key                shape / dtype   meaning
=================  ==============  =======================================================
``format``         () str          ``"pointwm-prediction"``
``version``        () int64        ``1``
``scene_xyz``      (N, 3) float32  scene points at t0, world frame, metres
``scene_color``    (N, 3) float32  colours in [0, 1] (grey when the source had none)
``robot_flow``     (T+1, M, 3) f32 robot surface points at steps 0..T (M may be 0)
``pred_flow``      (T, N, 3) f32   predicted SceneFlow: displacement from t0, metres
``gt_flow``        (T, N, 3) f32   optional: ground-truth SceneFlow
``goal_idx``       (G,) int64      optional: indices into the scene of the goal points
``goal_targets``   (G, 3) float32  optional (needs goal_idx): where those points should end, m
``extra_<name>``   any             optional arrays carried along (actions, costs ...)
``meta``           () str          JSON object (free form: checkpoint, goal, cost ...)
=================  ==============  =======================================================

Optional keys are absent, not empty. Readers ignore keys they do not know.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pointwm.atomic import write_bytes
from pointwm.errors import PointwmError

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "FlowScene", "VizInputError", "load_prediction",
           "save_prediction"]

BUNDLE_FORMAT = "pointwm-prediction"
BUNDLE_VERSION = 1


class VizInputError(PointwmError, ValueError):
    """An input the visualiser cannot use; the message names it and what was expected."""


def _np(x: Any, name: str, dtype) -> np.ndarray:
    """``x`` (numpy array, torch tensor or nested list) as a numpy array of ``dtype``."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    try:
        return np.ascontiguousarray(np.asarray(x), dtype=dtype)
    except (TypeError, ValueError) as e:
        raise VizInputError(f"{name}: cannot convert to a {np.dtype(dtype).name} array ({e})") from None


@dataclass(frozen=True, eq=False)
class FlowScene:
    """A scene with its motion, ready to draw.

    xyz:          (N, 3) float32 scene points at t0, world frame (z up), metres.
    color:        (N, 3) float32 colours in [0, 1].
    robot_flow:   (T+1, M, 3) float32 robot surface points at steps 0..T, metres; M may be 0.
    pred_flow:    (T, N, 3) float32 predicted SceneFlow (displacement from t0), or None.
    gt_flow:      (T, N, 3) float32 ground-truth SceneFlow, or None.
    goal_idx:     (G,) int64 indices into the N scene points of the goal points, or None.
    goal_targets: (G, 3) float32 goal positions of those points, metres, or None (goal
                  points without known targets).
    name:         what to call it in titles (a file name, a clip key).
    meta:         JSON-able dict carried along (checkpoint, goal, cost ...).

    T is taken from whichever of the flows is present (0 when none is).
    """

    xyz: np.ndarray
    color: np.ndarray
    robot_flow: np.ndarray
    pred_flow: np.ndarray | None = None
    gt_flow: np.ndarray | None = None
    goal_idx: np.ndarray | None = None
    goal_targets: np.ndarray | None = None
    name: str = "scene"
    meta: Mapping = field(default_factory=dict)

    @classmethod
    def build(cls, scene, robot_flow=None, pred_flow=None, gt_flow=None, goal_idx=None,
              goal_targets=None, scene_color=None, name: str = "scene",
              meta: Mapping | None = None) -> FlowScene:
        """Make a checked ``FlowScene`` from loose inputs.

        scene:       a ``PointCloud``, or an (N, 3) array of points in metres.
        scene_color: (N, 3) colours in [0, 1] (or uint8 0..255) when ``scene`` is an array;
                     default grey (a PointCloud brings its own colours).
        robot_flow:  (T+1, M, 3) robot points over time, or None (no robot).
        Other arguments as the fields. Arrays may be numpy or torch.
        """
        if hasattr(scene, "numpy") and hasattr(scene, "xyz") and not hasattr(scene, "shape"):
            arrays = scene.numpy()  # a PointCloud
            xyz, color = arrays["xyz"], arrays.get("color") if scene_color is None else scene_color
        else:
            xyz, color = scene, scene_color
        xyz = _np(xyz, "scene", np.float32)
        if xyz.ndim != 2 or xyz.shape[1] != 3:
            raise VizInputError(f"scene: expected (N, 3) points, got shape {xyz.shape}")
        if color is None:
            color = np.full_like(xyz, 0.6)
        else:
            raw = np.asarray(color.detach().cpu() if hasattr(color, "detach") else color)
            color = _np(raw, "scene_color", np.float32)
            if raw.dtype == np.uint8:
                color = color / 255.0
        T = None
        for f in (pred_flow, gt_flow):
            if f is not None:
                T = int(np.shape(f)[0])
                break
        if robot_flow is None:
            robot_flow = np.zeros(((T or 0) + 1, 0, 3), np.float32)
        return cls(
            xyz=xyz, color=color, robot_flow=_np(robot_flow, "robot_flow", np.float32),
            pred_flow=None if pred_flow is None else _np(pred_flow, "pred_flow", np.float32),
            gt_flow=None if gt_flow is None else _np(gt_flow, "gt_flow", np.float32),
            goal_idx=None if goal_idx is None else _np(goal_idx, "goal_idx", np.int64).reshape(-1),
            goal_targets=None if goal_targets is None else _np(goal_targets, "goal_targets", np.float32),
            name=name, meta=dict(meta or {}),
        )

    def __post_init__(self) -> None:
        n = self.xyz.shape[0] if self.xyz.ndim == 2 else -1
        if self.xyz.ndim != 2 or self.xyz.shape[1] != 3:
            raise VizInputError(f"{self.name}: scene xyz must be (N, 3), got {self.xyz.shape}")
        if self.color.shape != (n, 3):
            raise VizInputError(f"{self.name}: scene color must be ({n}, 3), got {self.color.shape}")
        if self.robot_flow.ndim != 3 or self.robot_flow.shape[2] != 3 or self.robot_flow.shape[0] < 1:
            raise VizInputError(f"{self.name}: robot_flow must be (T+1, M, 3), got {self.robot_flow.shape}")
        steps = None
        for label, f in (("pred_flow", self.pred_flow), ("gt_flow", self.gt_flow)):
            if f is None:
                continue
            if f.ndim != 3 or f.shape[1:] != (n, 3) or f.shape[0] < 1:
                raise VizInputError(f"{self.name}: {label} must be (T, {n}, 3) with T >= 1, got {f.shape}")
            if steps is not None and f.shape[0] != steps:
                raise VizInputError(f"{self.name}: pred_flow has {steps} steps but gt_flow has {f.shape[0]}")
            steps = f.shape[0]
            if not np.isfinite(f).all():
                raise VizInputError(f"{self.name}: {label} has non-finite values")
        if steps is not None and self.robot_flow.shape[1] and self.robot_flow.shape[0] != steps + 1:
            raise VizInputError(
                f"{self.name}: robot_flow has {self.robot_flow.shape[0]} steps, expected T+1 = {steps + 1}"
            )
        if not np.isfinite(self.xyz).all():
            raise VizInputError(f"{self.name}: scene xyz has non-finite values")
        if self.goal_idx is None and self.goal_targets is not None:
            raise VizInputError(f"{self.name}: goal_targets need goal_idx (which points they are for)")
        if self.goal_idx is not None:
            g = self.goal_idx.shape[0]
            if self.goal_targets is not None and self.goal_targets.shape != (g, 3):
                raise VizInputError(f"{self.name}: goal_targets must be ({g}, 3), got {self.goal_targets.shape}")
            if g and (self.goal_idx.min() < 0 or self.goal_idx.max() >= n):
                raise VizInputError(f"{self.name}: goal_idx must lie in [0, {n}), got "
                                    f"[{self.goal_idx.min()}, {self.goal_idx.max()}]")

    @property
    def num_points(self) -> int:
        """N, the number of scene points."""
        return int(self.xyz.shape[0])

    @property
    def num_steps(self) -> int:
        """T, the number of flow steps (0 when the scene has no flow and no robot motion)."""
        for f in (self.pred_flow, self.gt_flow):
            if f is not None:
                return int(f.shape[0])
        return int(self.robot_flow.shape[0]) - 1

    def flow(self, which: str = "pred") -> np.ndarray | None:
        """(T, N, 3) flow: ``"pred"`` or ``"gt"``; ``"auto"`` is pred, else gt."""
        if which == "auto":
            return self.pred_flow if self.pred_flow is not None else self.gt_flow
        if which not in ("pred", "gt"):
            raise VizInputError(f"flow: which must be 'pred', 'gt' or 'auto', got {which!r}")
        return self.pred_flow if which == "pred" else self.gt_flow

    def positions(self, t: int, which: str = "auto") -> np.ndarray:
        """(N, 3) scene points at step ``t`` (0..T) under the chosen flow."""
        f = self.flow(which)
        if t == 0 or f is None:
            return self.xyz
        return self.xyz + f[min(t, f.shape[0]) - 1]


def save_prediction(path: str | os.PathLike, scene, robot_flow, pred_flow, gt_flow=None,
                    goal_idx=None, goal_targets=None, meta: Mapping | None = None,
                    scene_color=None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write a prediction bundle (see the module docstring for its keys) atomically.

    scene:        a ``PointCloud`` or (N, 3) points, metres (``scene_color`` (N, 3) then).
    robot_flow:   (T+1, M, 3) robot surface points at steps 0..T, metres (or None).
    pred_flow:    (T, N, 3) predicted SceneFlow, metres.
    gt_flow:      (T, N, 3) ground-truth SceneFlow, or None.
    goal_idx:     (G,) scene point indices, with goal_targets (G, 3) metres, or None.
    meta:         JSON-able dict stored as a string.
    extra:        more arrays to keep in the file (e.g. the plan's actions (T, J)), stored as
                  ``extra_<name>``; the viewer ignores them.

    Returns the path. Raises ``VizInputError`` naming the bad argument.
    """
    if pred_flow is None:
        raise VizInputError("save_prediction: pred_flow is required")
    fs = FlowScene.build(scene, robot_flow, pred_flow, gt_flow, goal_idx, goal_targets,
                         scene_color=scene_color, name=str(path), meta=meta)
    return save_flow_scene(path, fs, extra)


def save_flow_scene(path: str | os.PathLike, fs: FlowScene, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``fs`` (and ``extra`` arrays as ``extra_<name>``) as a prediction bundle, atomically."""
    path = Path(path)
    try:
        meta = json.dumps(dict(fs.meta))
    except (TypeError, ValueError) as e:
        raise VizInputError(f"{path}: meta is not JSON-able ({e})") from None
    arrays = {"format": np.array(BUNDLE_FORMAT), "version": np.array(BUNDLE_VERSION, np.int64),
              "scene_xyz": fs.xyz, "scene_color": fs.color, "robot_flow": fs.robot_flow,
              "meta": np.array(meta)}
    for key in ("pred_flow", "gt_flow", "goal_idx", "goal_targets"):
        if getattr(fs, key) is not None:
            arrays[key] = getattr(fs, key)
    for name, value in (extra or {}).items():
        if not str(name).isidentifier():
            raise VizInputError(f"{path}: extra array name {name!r} must be an identifier")
        value = _np(value, f"extra[{name!r}]", None)
        if value.dtype == object:
            raise VizInputError(f"{path}: extra[{name!r}] is not a numeric array")
        arrays[f"extra_{name}"] = value
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return write_bytes(path, buf.getvalue())


def load_prediction(path: str | os.PathLike) -> FlowScene:
    """Read a prediction bundle written by ``save_prediction``; errors name the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise VizInputError(f"{path}: not a readable .npz prediction bundle ({e})") from None
    fmt = str(data.get("format", ""))
    if not fmt and {"xyz", "flow", "robot_flow"} <= set(data):
        return _from_planner_npz(path, data)
    if fmt != BUNDLE_FORMAT:
        raise VizInputError(f"{path}: format is {fmt or None!r}, expected a {BUNDLE_FORMAT!r} bundle "
                            f"(write one with pointwm.viz.save_prediction)")
    version = int(data.get("version", -1))
    if version > BUNDLE_VERSION:
        raise VizInputError(f"{path}: bundle version {version} is newer than this pointwm reads ({BUNDLE_VERSION})")
    missing = [k for k in ("scene_xyz", "robot_flow") if k not in data]
    if missing:
        raise VizInputError(f"{path}: prediction bundle lacks {missing}")
    try:
        meta = json.loads(str(data["meta"])) if "meta" in data else {}
    except json.JSONDecodeError as e:
        raise VizInputError(f"{path}: meta is not valid JSON ({e})") from None
    return FlowScene.build(data["scene_xyz"], data["robot_flow"], data.get("pred_flow"),
                           data.get("gt_flow"), data.get("goal_idx"), data.get("goal_targets"),
                           scene_color=data.get("scene_color"), name=path.name, meta=meta)


def _from_planner_npz(path: Path, data: Mapping[str, np.ndarray]) -> FlowScene:
    """The planner's first ``flow.npz`` layout: ``xyz`` (N, 3), ``flow`` (T, N, 3),
    ``robot_flow`` (T+1, M, 3) and optionally ``goal_mask`` (N,) bool. No colours, no targets."""
    goal_idx = np.flatnonzero(data["goal_mask"]) if "goal_mask" in data else None
    return FlowScene.build(data["xyz"], data["robot_flow"], data["flow"], goal_idx=goal_idx,
                           scene_color=data.get("color"), name=path.name, meta={"layout": "planner flow.npz"})
