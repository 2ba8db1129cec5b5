"""Planner configuration: frozen dataclasses loaded from ``configs/planner/*.yaml``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pointwm.errors import ConfigError
from pointwm.paths import CONFIGS

__all__ = ["DEFAULT_WEIGHTS", "OUTPUTS", "CostWeights", "PlannerConfig"]

OUTPUTS = ("best", "mean")  # PlannerConfig.output
GOAL_STEPS = ("last", "all")  # PlannerConfig.goal_steps


DEFAULT_WEIGHTS = {"goal": 10.0, "still": 0.0, "smoothness": 0.01, "size": 0.01, "joint_limit": 1.0, "table": 100.0}


class CostWeights(Mapping[str, float]):
    """Weights of the cost terms by name, immutable (see :mod:`planning.costs` for each
    term's unit). The planner's generic terms and their defaults:

    goal:        per metre of mean distance between goal points and their targets.
    still:       per metre of mean displacement of the non-goal points (0 turns it off).
    smoothness:  per squared joint acceleration, in units of (velocity_limits * dt) per step.
    size:        per squared joint velocity, in units of (velocity_limits * dt).
    joint_limit: per squared fraction of a joint's range spent inside the limit margin.
    table:       per metre of robot points below the table plane (deepest point, worst step).

    Any other name is the weight of a term that a task injects into the planner (a push
    task's ``reach`` and ``approach``, ``pointwm.tasks.push.COST_TERMS``); the planner
    refuses a weight that no term answers to.
    """

    def __init__(self, weights: Mapping[str, float] | None = None, **more: float) -> None:
        merged = {**DEFAULT_WEIGHTS, **dict(weights or {}), **more}
        for name, v in merged.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(f"CostWeights: expected term names, got {name!r}")
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"CostWeights.{name}: expected a finite number >= 0, got {v!r}")
        self._w = {k: float(v) for k, v in merged.items()}

    def __getitem__(self, name: str) -> float:
        return self._w[name]

    def __iter__(self):
        return iter(self._w)

    def __len__(self) -> int:
        return len(self._w)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._w.items())))

    def __repr__(self) -> str:
        return f"CostWeights({self._w})"


@dataclass(frozen=True)
class PlannerConfig:
    """MPPI settings (Williams et al. 2017 symbols: K samples, T horizon, lambda temperature).

    K, T:             samples per iteration and horizon (steps of ``dt`` seconds).
    iterations:       MPPI iterations per plan() call.
    lambda_:          softmax temperature in cost units (``lambda`` is a Python keyword).
    noise_std:        std of the per-step joint increments, as a fraction of the per-step
                      velocity bound ``velocity_limits * dt``.
    noise_smoothing:  AR(1) coefficient of the increment noise along time, in [0, 1).
    noise_decay:      noise std multiplier per iteration, in (0, 1].
    tool_noise_std:   std (m per step) of extra noise drawn as Cartesian moves of the robot's
                      tool links (``RobotModel.tool_link_names``) and mapped to joint
                      increments by the damped pseudo-inverse of ``tool_jacobian`` along the
                      mean (orientation held to first order); 0 turns it off. One number, or
                      three for the world x, y, z axes ((s, s, 0) explores in the table
                      plane, as pushing wants; see :attr:`tool_noise_xyz`). Samples are
                      still joint-position sequences under the same limits: this only
                      shapes the exploration, and suits contact tasks (pushing), where pure
                      joint noise rarely moves the tool along a line.
    tool_rot_noise_std: std (rad per step) of tool rotation noise in the same mapping.
    tool_damping:     damping of that pseudo-inverse (m), in (0, 1].
    max_tool_speed:   m/s, or None (off): every sample is slowed where a tool link would move
                      faster (``limit_tool_speed``). A learned model is trustworthy only at the
                      speeds it was trained on (the generator pushes at 0.08-0.2 m/s).
    output:           what MPPI returns: ``"best"``, the lowest-cost candidate evaluated, or
                      ``"mean"``, the final weighted mean (Williams et al.'s control; rolled
                      out once more, so its predicted flow and cost are reported). The mean
                      averages the good samples, so it exploits a learned model's errors on
                      single samples less than the argmin does. Random shooting always
                      returns its best sample.
    goal_steps:       where the goal cost looks: ``"last"``, the goal's step only; ``"all"``,
                      the mean over steps 1 to the goal's step, so that a candidate that
                      makes progress early scores better (only the first steps are executed
                      before the next replan).
    time_budget_s:    wall-clock seconds for one plan() call (None: no limit).
    seed:             seed of the sampling generator (plans are reproducible).
    weights:          :class:`CostWeights` (a mapping from term name to weight).
    joint_limit_margin: fraction of each joint's range near a limit that costs.
    table_z, table_clearance: the table plane height and the robot's clearance above it (m).
    """

    K: int = 64
    T: int = 10
    dt: float = 0.1
    iterations: int = 4
    lambda_: float = 0.05
    noise_std: float = 0.5
    noise_smoothing: float = 0.8
    noise_decay: float = 0.7
    tool_noise_std: float | tuple[float, float, float] = 0.0
    tool_rot_noise_std: float = 0.0
    tool_damping: float = 0.05
    max_tool_speed: float | None = None
    output: str = "best"
    goal_steps: str = "last"
    time_budget_s: float | None = None
    seed: int = 0
    weights: CostWeights = field(default_factory=CostWeights)
    joint_limit_margin: float = 0.05
    table_z: float = 0.0
    table_clearance: float = 0.005

    def __post_init__(self) -> None:
        for name in ("K", "T", "iterations"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"PlannerConfig.{name}: expected a positive integer, got {v!r}")
        for name in ("dt", "lambda_", "noise_std"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"PlannerConfig.{name}: expected a finite number > 0, got {v!r}")
        if not 0.0 <= self.noise_smoothing < 1.0:
            raise ConfigError(f"PlannerConfig.noise_smoothing: expected in [0, 1), got {self.noise_smoothing!r}")
        if not 0.0 < self.noise_decay <= 1.0:
            raise ConfigError(f"PlannerConfig.noise_decay: expected in (0, 1], got {self.noise_decay!r}")
        def std_ok(x) -> bool:
            return isinstance(x, int | float) and math.isfinite(x) and x >= 0

        v = self.tool_noise_std
        if isinstance(v, list | tuple):  # per world axis (YAML gives a list)
            if len(v) != 3 or not all(map(std_ok, v)):
                raise ConfigError(f"PlannerConfig.tool_noise_std: expected a number >= 0 or three (x, y, z), got {v!r}")
            object.__setattr__(self, "tool_noise_std", tuple(float(x) for x in v))
        elif not std_ok(v):
            raise ConfigError(f"PlannerConfig.tool_noise_std: expected a finite number >= 0, got {v!r}")
        if not std_ok(self.tool_rot_noise_std):
            raise ConfigError(f"PlannerConfig.tool_rot_noise_std: expected a finite number >= 0, got {self.tool_rot_noise_std!r}")
        if not isinstance(self.tool_damping, int | float) or not 0.0 < self.tool_damping <= 1.0:
            raise ConfigError(f"PlannerConfig.tool_damping: expected in (0, 1], got {self.tool_damping!r}")
        v = self.max_tool_speed
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0):
            raise ConfigError(f"PlannerConfig.max_tool_speed: expected a number > 0 (m/s) or null, got {v!r}")
        if self.output not in OUTPUTS:
            raise ConfigError(f"PlannerConfig.output: expected one of {list(OUTPUTS)}, got {self.output!r}")
        if self.goal_steps not in GOAL_STEPS:
            raise ConfigError(f"PlannerConfig.goal_steps: expected one of {list(GOAL_STEPS)}, got {self.goal_steps!r}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ConfigError(f"PlannerConfig.time_budget_s: expected > 0 or None, got {self.time_budget_s!r}")
        if not 0.0 <= self.joint_limit_margin < 0.5:
            raise ConfigError(f"PlannerConfig.joint_limit_margin: expected in [0, 0.5), got {self.joint_limit_margin!r}")
        if isinstance(self.weights, Mapping) and not isinstance(self.weights, CostWeights):
            object.__setattr__(self, "weights", CostWeights(self.weights))
        if not isinstance(self.weights, CostWeights):
            raise TypeError(f"PlannerConfig.weights: expected CostWeights or a mapping, got {type(self.weights).__name__}")

    @property
    def tool_noise_xyz(self) -> tuple[float, float, float]:
        """``tool_noise_std`` per world axis (x, y, z)."""
        v = self.tool_noise_std
        return v if isinstance(v, tuple) else (float(v),) * 3

    def replace(self, **changes: Any) -> PlannerConfig:
        """A copy with some fields changed (``weights`` may be a partial mapping)."""
        if isinstance(changes.get("weights"), Mapping):
            changes["weights"] = CostWeights({**self.weights, **changes["weights"]})
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["weights"] = dict(self.weights)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "planner config") -> PlannerConfig:
        """Build from a mapping; unknown keys raise ``ValueError`` naming them."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
        data = dict(data)
        if "lambda" in data:
            data["lambda_"] = data.pop("lambda")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {unknown} (expected some of {sorted(known)})")
        w = data.pop("weights", None) or {}
        if not isinstance(w, dict):
            raise ConfigError(f"{source}: weights: expected a mapping, got {type(w).__name__}")
        try:
            return cls(**data, weights=CostWeights(w))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> PlannerConfig:
        """Load a planner preset: a path, or a name in ``configs/planner/`` ("default")."""
        p = Path(path)
        if not p.suffix and not p.exists():
            p = CONFIGS / "planner" / f"{path}.yaml"
        if not p.is_file():
            raise FileNotFoundError(f"planner config {str(path)!r}: no such file")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"planner config {p}: malformed YAML: {e}") from None
        return cls.from_dict(data, source=f"planner config {p}")
