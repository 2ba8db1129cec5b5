"""Configuration of the simulated data generator (frozen, JSON-able)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

__all__ = ["GENERATOR_VERSION", "OBJECT_SHAPES", "SimConfig"]

OBJECT_SHAPES = ("box", "cylinder", "sphere", "capsule", "ellipsoid", "lying_cylinder", "prism", "rock")

# Bump when a change alters the clips a (config, seed) produces: archives record it.
GENERATOR_VERSION = 2


@dataclass(frozen=True)
class SimConfig:
    """What one simulated clip looks like.

    robot:         robot name (``kinematics.load_robot``); its URDF primitives become the
                   simulated robot (driven kinematically along the planned joint path).
    num_steps:     T, predicted steps per clip; step_dt: seconds per step.
    physics_dt:    MuJoCo time step (s); settle_time: seconds objects settle before t0.
    width, height: camera image size (pixels); fov_deg: (lo, hi) vertical field of view.
    cameras:       (lo, hi) number of cameras per clip; objects: (lo, hi) objects per clip.
    push_prob:     probability of a motion at an object (else a random reach).
    probe_prob:    of those, the fraction that are probes (a noisy tool path from beside
                   the object, as a sampling planner explores) rather than straight pushes;
                   0 (the default) draws no probes.
    retreat_prob:  of the object motions that are not probes, the fraction that are
                   retreats (the tool starts at the object, as after a push, and moves
                   back or aside: a pusher cannot pull, so the object stays); 0 (the
                   default) draws none.
    shapes:        object kinds drawn uniformly, from ``OBJECT_SHAPES``. The default three are
                   the training family; ``capsule`` and ``ellipsoid`` are never drawn by
                   default, so an archive made with ``shapes=("capsule", "ellipsoid")``
                   holds out object shapes as well as seeds. ``lying_cylinder`` (a
                   cylinder on its side: it rolls), ``prism`` (a convex 3-8-sided
                   prism or frustum) and ``rock`` (the convex hull of 6-20 random points,
                   resting on its largest face) widen a training family on request.
    push_gap:      (lo, hi) metres between the tool and the object's bounding circle at the
                   start of a straight push (default 2-6 cm: the tool reaches the object
                   during the clip; near 0: it starts at the object, as a closed-loop
                   planner's tool does after its first replan).
    push_length:   (lo, hi) metres the tool moves in a straight push (default 8-20 cm).
    push_offset:   metres; a straight push's line passes a uniform draw in [-push_offset,
                   push_offset] to the side of the object's centre (default 0: through it),
                   so pushes turn, deflect, graze or miss the object.
    task_prob:     fraction of clips drawn from the states a closed-loop push planner visits
                   (``pointwm.data.sim.task_states``: an ``eval-plan`` push task with a seed
                   of at least 10^6, driven 0-3 replans by MPPI with a no-motion model, then
                   one of that planner's candidates run for T steps). Those clips use the
                   task's simulator (two fixed cameras, 128 x 96, physics step 0.004 s), not
                   the fields above; 0 (the default) draws none, so archives are unchanged.
    task_driver:   world-model checkpoint whose MPPI drives those tasks and proposes the
                   recorded candidate (the learned planner's own states: DAgger-style data);
                   "" (the default): the no-motion model.
    task_episode:  0 (the default): each task-state clip is its own task, driven 0-3 replans.
                   E >= 1 (needs task_prob 1): clips e*E .. e*E+E-1 are the E replans of one
                   task e, driven by the planner from its start as ``eval-plan`` runs it (no
                   hold); at each replan the planner's plan or one of its samples is recorded
                   from a snapshot of the simulator, which is then restored before the plan's
                   first steps run. One plan per clip instead of 1-4, and the late states of a
                   task (object near its target) as well as the early ones.
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
    push_prob: float = 0.75
    probe_prob: float = 0.0
    retreat_prob: float = 0.0
    shapes: tuple[str, ...] = ("box", "cylinder", "sphere")
    push_gap: tuple[float, float] = (0.02, 0.06)
    push_length: tuple[float, float] = (0.08, 0.2)
    push_offset: float = 0.0
    task_prob: float = 0.0
    task_driver: str = ""
    task_episode: int = 0
    voxel_size: float = 0.015
    max_points: int = 12000
    workspace_lo: tuple[float, float, float] = (0.0, -0.4, -0.3)
    workspace_hi: tuple[float, float, float] = (0.7, 0.4, 1.2)

    def __post_init__(self) -> None:
        def pair(name, lo_min):
            v = getattr(self, name)
            if len(v) != 2 or not (lo_min <= v[0] <= v[1]):
                raise ValueError(f"SimConfig.{name}: expected (lo, hi) with {lo_min} <= lo <= hi, got {v}")
            object.__setattr__(self, name, tuple(v))

        pair("cameras", 1)
        pair("objects", 1)
        pair("fov_deg", 1.0)
        pair("push_gap", 0.0)
        pair("push_length", 0.0)
        for name in ("num_steps", "width", "height", "max_points"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"SimConfig.{name}: expected a positive integer, got {getattr(self, name)}")
        for name in ("step_dt", "physics_dt", "voxel_size"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SimConfig.{name}: expected > 0, got {getattr(self, name)}")
        if self.settle_time < 0:
            raise ValueError(f"SimConfig.settle_time: expected >= 0, got {self.settle_time}")
        ratio = self.step_dt / self.physics_dt
        if abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(f"SimConfig: step_dt {self.step_dt} must be a multiple of physics_dt {self.physics_dt}")
        if not (0.0 <= self.push_offset <= 0.2):
            raise ValueError(f"SimConfig.push_offset: expected metres in [0, 0.2], got {self.push_offset}")
        for name in ("push_prob", "probe_prob", "retreat_prob", "task_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"SimConfig.{name}: expected in [0, 1], got {getattr(self, name)}")
        if self.task_driver and not self.task_prob > 0:
            raise ValueError(f"SimConfig.task_driver {self.task_driver!r} drives push tasks: it needs task_prob > 0")
        if self.task_driver and not os.path.isfile(self.task_driver):
            raise ValueError(f"SimConfig.task_driver: no such checkpoint file: {self.task_driver!r}")
        if not (isinstance(self.task_episode, int) and self.task_episode >= 0):
            raise ValueError(f"SimConfig.task_episode: expected an integer >= 0, got {self.task_episode!r}")
        if self.task_episode and self.task_prob != 1.0:
            raise ValueError(f"SimConfig.task_episode {self.task_episode} records whole task episodes: "
                             f"it needs task_prob 1, got {self.task_prob}")
        shapes = tuple(self.shapes)
        if not shapes or any(k not in OBJECT_SHAPES for k in shapes) or len(set(shapes)) != len(shapes):
            raise ValueError(f"SimConfig.shapes: expected distinct kinds from {OBJECT_SHAPES}, got {self.shapes}")
        object.__setattr__(self, "shapes", shapes)
        if self.objects[1] > 8:
            raise ValueError(f"SimConfig.objects: at most 8 objects, got {self.objects}")

    @property
    def substeps(self) -> int:
        """Physics steps per clip step."""
        return int(round(self.step_dt / self.physics_dt))

    def to_dict(self) -> dict:
        """JSON-able fields. Fields added after version 1 (``probe_prob``, ``retreat_prob``, ``shapes``,
        ``push_gap``, ``push_length``, ``push_offset``, ``task_prob``, ``task_driver``, ``task_episode``) appear
        only when they differ from their defaults, so that archives written before them
        still resume with the same command."""
        d = asdict(self)
        for k, default in _LATER_FIELDS.items():
            if d[k] == default:
                del d[k]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


_LATER_FIELDS = {"probe_prob": 0.0, "retreat_prob": 0.0, "shapes": ("box", "cylinder", "sphere"), "push_gap": (0.02, 0.06),
                 "push_length": (0.08, 0.2), "push_offset": 0.0, "task_prob": 0.0,
                 "task_driver": "", "task_episode": 0}
