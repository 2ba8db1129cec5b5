"""One training clip: t0 RGB-D views, scene points with ground-truth futures, robot joints.

A ``Clip`` is what archives store and what every reader (pointwm archives, PointWorld H5)
produces. It holds numpy arrays (CPU, compact dtypes); training code turns it into tensors
(``pointwm.data.sample``). Conventions follow DESIGN.md: metres, seconds, world frame = robot
base frame (z up), OpenCV cameras, ``T_world_cam`` maps camera to world coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pointwm.errors import PointwmError

__all__ = ["CameraView", "Clip", "ClipError"]


class ClipError(PointwmError, ValueError):
    """A clip whose fields are missing, malformed or disagree in shape. Names the clip."""


@dataclass(frozen=True, eq=False)
class CameraView:
    """The t0 image of one camera.

    name:        camera name, unique within its clip (e.g. "cam0", "camera_12345_ext").
    rgb:         (H, W, 3) uint8 colour image.
    depth:       (H, W) float32 metres, 0 = no reading (registered to rgb).
    K:           (3, 3) float64 pinhole matrix, OpenCV convention (pixel centres at integers).
    T_world_cam: (4, 4) float64 camera pose (camera -> world).
    segmentation: (H, W) int32 per-pixel segment id (simulation only; -1 = background), or None.
    jpeg:        the source's JPEG bytes of ``rgb`` when it came as JPEG (kept byte-exact by
                 archives), else None.
    """

    name: str
    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    T_world_cam: np.ndarray
    segmentation: np.ndarray | None = None
    jpeg: bytes | None = None

    def check(self, where: str) -> None:
        """Raise ``ClipError`` naming ``where`` when a field has the wrong shape or dtype."""
        w = f"{where}: camera {self.name!r}"
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise ClipError(f"{w}: rgb must be (H, W, 3) uint8, got {self.rgb.shape} {self.rgb.dtype}")
        if self.depth.ndim != 2:
            raise ClipError(f"{w}: depth must be (H, W), got {self.depth.shape}")
        if self.depth.shape != self.rgb.shape[:2]:
            raise ClipError(f"{w}: depth {self.depth.shape} and rgb {self.rgb.shape[:2]} differ in (H, W)")
        if self.K.shape != (3, 3) or not np.isfinite(self.K).all():
            raise ClipError(f"{w}: K must be a finite (3, 3) matrix, got shape {self.K.shape}")
        if self.T_world_cam.shape != (4, 4) or not np.isfinite(self.T_world_cam).all():
            raise ClipError(f"{w}: T_world_cam must be a finite (4, 4) matrix, got shape {self.T_world_cam.shape}")
        if self.segmentation is not None and self.segmentation.shape != self.depth.shape:
            raise ClipError(f"{w}: segmentation {self.segmentation.shape} and depth {self.depth.shape} differ")


@dataclass(frozen=True, eq=False)
class Clip:
    """A clip of T steps: scene points at t0 with their true positions at steps 0..T.

    key:          unique clip id (letters, digits, ``_`` and ``-``; no dots).
    robot:        robot name, loadable with ``kinematics.load_robot`` (e.g. "panda").
    joint_names:  the J joints of ``q`` in order (``RobotModel.joint_names`` of ``robot``).
    q:            (T+1, J) float32 joint positions (rad / m) at steps 0..T.
    gripper:      (T+1,) float32 gripper opening in [0, 1] (1 = open).
    points:       (T+1, N, 3) float32 world-frame positions of the N scene points at steps
                  0..T (``points[0]`` is the t0 cloud, ``points[t] - points[0]`` the flow).
    colors:       (N, 3) uint8 colours.
    normals:      (N, 3) float32 unit normals at t0 (zero where unknown).
    valid:        (N,) bool: the point's ground truth can be trusted at all (e.g. valid depth).
    visible:      (T+1, N) bool: the point is observed at step t (simulation: all True).
    point_camera: (N,) int16 index into ``cameras`` of the camera that saw the point.
    segment:      (N,) int16 rigid-body id of the point (simulation; 0 = static), or None.
    cameras:      the t0 views (one or more).
    dt:           seconds per step.
    provenance:   JSON-able dict: ``generator``, ``version``, ``seed``, ``source`` ...
    """

    key: str
    robot: str
    joint_names: tuple[str, ...]
    q: np.ndarray
    gripper: np.ndarray
    points: np.ndarray
    colors: np.ndarray
    normals: np.ndarray
    valid: np.ndarray
    visible: np.ndarray
    point_camera: np.ndarray
    cameras: tuple[CameraView, ...]
    dt: float = 0.1
    segment: np.ndarray | None = None
    provenance: Mapping = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        """T, the number of predicted steps."""
        return int(self.points.shape[0]) - 1

    @property
    def num_points(self) -> int:
        """N, the number of scene points."""
        return int(self.points.shape[1])

    @property
    def xyz(self) -> np.ndarray:
        """(N, 3) float32 t0 positions."""
        return self.points[0]

    @property
    def flow(self) -> np.ndarray:
        """(T, N, 3) float32 displacement from t0 for steps 1..T (DESIGN.md SceneFlow)."""
        return self.points[1:] - self.points[:1]

    def check(self) -> Clip:
        """Validate shapes, dtypes and finiteness; raise ``ClipError`` naming the clip.

        Returns self so that readers can write ``return Clip(...).check()``.
        """
        w = f"clip {self.key!r}"
        if not self.key or "." in self.key or "/" in self.key:
            raise ClipError(f"{w}: key must be non-empty without '.' or '/'")
        if not isinstance(self.robot, str) or not self.robot:
            raise ClipError(f"{w}: robot must be a non-empty name")
        p = self.points
        if p.ndim != 3 or p.shape[2] != 3 or p.shape[0] < 2:
            raise ClipError(f"{w}: points must be (T+1, N, 3) with T >= 1, got {p.shape}")
        T1, N = p.shape[:2]
        expect: dict[str, tuple[np.ndarray | None, tuple[int, ...]]] = {
            "colors": (self.colors, (N, 3)),
            "normals": (self.normals, (N, 3)),
            "valid": (self.valid, (N,)),
            "visible": (self.visible, (T1, N)),
            "point_camera": (self.point_camera, (N,)),
            "gripper": (self.gripper, (T1,)),
            "q": (self.q, (T1, len(self.joint_names))),
            "segment": (self.segment, (N,)),
        }
        for name, (arr, shape) in expect.items():
            if arr is None:
                if name == "segment":
                    continue
                raise ClipError(f"{w}: missing field {name!r}")
            if tuple(arr.shape) != shape:
                raise ClipError(
                    f"{w}: {name} has shape {tuple(arr.shape)}, expected {shape} "
                    f"(T+1={T1}, N={N}, J={len(self.joint_names)})"
                )
        if self.colors.dtype != np.uint8:
            raise ClipError(f"{w}: colors must be uint8, got {self.colors.dtype}")
        for name in ("valid", "visible"):
            if getattr(self, name).dtype != np.bool_:
                raise ClipError(f"{w}: {name} must be bool, got {getattr(self, name).dtype}")
        for name in ("points", "normals", "q", "gripper"):
            if not np.isfinite(getattr(self, name)).all():
                raise ClipError(f"{w}: {name} contains NaN or inf")
        if not self.cameras:
            raise ClipError(f"{w}: needs at least one camera view")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ClipError(f"{w}: camera names repeat: {names}")
        for cam in self.cameras:
            cam.check(w)
        if N and (self.point_camera.min() < 0 or self.point_camera.max() >= len(self.cameras)):
            raise ClipError(f"{w}: point_camera indexes outside the {len(self.cameras)} cameras")
        if not (self.dt > 0):
            raise ClipError(f"{w}: dt must be > 0 seconds, got {self.dt}")
        return self
