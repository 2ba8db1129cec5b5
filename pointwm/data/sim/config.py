"""Configuration of the simulated data generator (frozen, JSON-able): a world and its motions."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from pointwm.errors import ConfigError
from pointwm.sim.config import OBJECT_SHAPES, WorldConfig

__all__ = ["GENERATOR_VERSION", "OBJECT_SHAPES", "SimConfig"]

# Bump when a change alters the clips a (config, seed) produces: archives record it.
GENERATOR_VERSION = 2


@dataclass(frozen=True)
class SimConfig(WorldConfig):
    """What one simulated clip looks like: the world (:class:`pointwm.sim.WorldConfig`'s
    fields: robot, T, step and physics times, cameras, objects, shapes, voxels, workspace)
    and the motions drawn in it.

    push_prob:     probability of a motion at an object (else a random reach).
    probe_prob:    of those, the fraction that are probes (a noisy tool path from beside
                   the object, as a sampling planner explores) rather than straight pushes;
                   0 (the default) draws no probes.
    retreat_prob:  of the object motions that are not probes, the fraction that are
                   retreats (the tool starts at the object, as after a push, and moves
                   back or aside: a pusher cannot pull, so the object stays); 0 (the
                   default) draws none.
    push_gap:      (lo, hi) metres between the tool and the object's bounding circle at the
                   start of a straight push (default 2-6 cm: the tool reaches the object
                   during the clip; near 0: it starts at the object, as a closed-loop
                   planner's tool does after its first replan).
    push_length:   (lo, hi) metres the tool moves in a straight push (default 8-20 cm).
    push_offset:   metres; a straight push's line passes a uniform draw in [-push_offset,
                   push_offset] to the side of the object's centre (default 0: through it),
                   so pushes turn, deflect, graze or miss the object.
    task_prob:     fraction of clips drawn from the states a closed-loop push planner visits
                   (``pointwm.data.sim.task_states``: a push task (``pointwm.tasks.push``)
                   with a seed of at least 10^6, driven 0-3 replans by MPPI with a no-motion
                   model, then one of that planner's candidates run for T steps). Those clips
                   use the task's world (two fixed cameras, 128 x 96, physics step 0.004 s),
                   not the fields above; 0 (the default) draws none, so archives are unchanged.
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
    """

    push_prob: float = 0.75
    probe_prob: float = 0.0
    retreat_prob: float = 0.0
    push_gap: tuple[float, float] = (0.02, 0.06)
    push_length: tuple[float, float] = (0.08, 0.2)
    push_offset: float = 0.0
    task_prob: float = 0.0
    task_driver: str = ""
    task_episode: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("push_gap", "push_length"):
            v = getattr(self, name)
            if len(v) != 2 or not (0.0 <= v[0] <= v[1]):
                raise ConfigError(f"SimConfig.{name}: expected (lo, hi) with 0.0 <= lo <= hi, got {v}")
            object.__setattr__(self, name, tuple(v))
        if not (0.0 <= self.push_offset <= 0.2):
            raise ConfigError(f"SimConfig.push_offset: expected metres in [0, 0.2], got {self.push_offset}")
        for name in ("push_prob", "probe_prob", "retreat_prob", "task_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"SimConfig.{name}: expected in [0, 1], got {getattr(self, name)}")
        if self.task_driver and not self.task_prob > 0:
            raise ConfigError(f"SimConfig.task_driver {self.task_driver!r} drives push tasks: it needs task_prob > 0")
        if self.task_driver and not os.path.isfile(self.task_driver):
            raise ConfigError(f"SimConfig.task_driver: no such checkpoint file: {self.task_driver!r}")
        if not (isinstance(self.task_episode, int) and self.task_episode >= 0):
            raise ConfigError(f"SimConfig.task_episode: expected an integer >= 0, got {self.task_episode!r}")
        if self.task_episode and self.task_prob != 1.0:
            raise ConfigError(f"SimConfig.task_episode {self.task_episode} records whole task episodes: "
                             f"it needs task_prob 1, got {self.task_prob}")

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
