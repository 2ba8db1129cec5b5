"""What a simulated table-top world looks like: robot, time steps, cameras, objects, scene points."""

from __future__ import annotations

from dataclasses import dataclass

from pointwm.errors import ConfigError

__all__ = ["OBJECT_SHAPES", "WorldConfig"]

OBJECT_SHAPES = ("box", "cylinder", "sphere", "capsule", "ellipsoid", "lying_cylinder", "prism", "rock")


@dataclass(frozen=True)
class WorldConfig:
    """A simulated world (frozen, JSON-able). Units: metres, seconds, degrees, pixels.

    robot:         robot name (``kinematics.load_robot``); its URDF primitives become the
                   simulated robot (driven kinematically along a joint path).
    num_steps:     T, steps of a recorded or planned motion; step_dt: seconds per step.
    physics_dt:    MuJoCo time step (s); settle_time: seconds objects settle before t0.
    width, height: camera image size (pixels); fov_deg: (lo, hi) vertical field of view.
    cameras:       (lo, hi) number of cameras per scene; objects: (lo, hi) objects per scene.
    shapes:        object kinds drawn uniformly, from ``OBJECT_SHAPES``. The default three are
                   the training family; ``capsule`` and ``ellipsoid`` are never drawn by
                   default, so a scene set with ``shapes=("capsule", "ellipsoid")`` holds out
                   object shapes as well as seeds. ``lying_cylinder`` (a cylinder on its
                   side: it rolls), ``prism`` (a convex 3-8-sided prism or frustum) and
                   ``rock`` (the convex hull of 6-20 random points, resting on its largest
                   face) widen a family on request.
    voxel_size:    metres, one scene point per voxel; max_points: cap on N.
    workspace_lo/hi: crop box of the scene points (world frame, metres).
    """

    robot: str = "panda"
    num_steps: int = 10
    step_dt: float = 0.1
    physics_dt: float = 0.002
    settle_time: float = 0.3
    width: int = 160
    height: int = 120
    fov_deg: tuple[float, float] = (50.0, 65.0)
    cameras: tuple[int, int] = (1, 3)
    objects: tuple[int, int] = (1, 4)
    shapes: tuple[str, ...] = ("box", "cylinder", "sphere")
    voxel_size: float = 0.015
    max_points: int = 12000
    workspace_lo: tuple[float, float, float] = (0.0, -0.4, -0.3)
    workspace_hi: tuple[float, float, float] = (0.7, 0.4, 1.2)

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key, lo_min in (("cameras", 1), ("objects", 1), ("fov_deg", 1.0)):
            v = getattr(self, key)
            if len(v) != 2 or not (lo_min <= v[0] <= v[1]):
                raise ConfigError(f"{name}.{key}: expected (lo, hi) with {lo_min} <= lo <= hi, got {v}")
            object.__setattr__(self, key, tuple(v))
        for key in ("num_steps", "width", "height", "max_points"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"{name}.{key}: expected a positive integer, got {getattr(self, key)}")
        for key in ("step_dt", "physics_dt", "voxel_size"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{name}.{key}: expected > 0, got {getattr(self, key)}")
        if self.settle_time < 0:
            raise ConfigError(f"{name}.settle_time: expected >= 0, got {self.settle_time}")
        ratio = self.step_dt / self.physics_dt
        if abs(ratio - round(ratio)) > 1e-6:
            raise ConfigError(f"{name}: step_dt {self.step_dt} must be a multiple of physics_dt {self.physics_dt}")
        shapes = tuple(self.shapes)
        if not shapes or any(k not in OBJECT_SHAPES for k in shapes) or len(set(shapes)) != len(shapes):
            raise ConfigError(f"{name}.shapes: expected distinct kinds from {OBJECT_SHAPES}, got {self.shapes}")
        object.__setattr__(self, "shapes", shapes)
        if self.objects[1] > 8:
            raise ConfigError(f"{name}.objects: at most 8 objects, got {self.objects}")

    @property
    def substeps(self) -> int:
        """Physics steps per motion step."""
        return int(round(self.step_dt / self.physics_dt))
