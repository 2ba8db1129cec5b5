"""Planner configuration: frozen dataclasses loaded from ``configs/planner/*.yaml``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["OUTPUTS", "CostWeights", "PlannerConfig"]

OUTPUTS = ("best", "mean")  # PlannerConfig.output
GOAL_STEPS = ("last", "all")  # PlannerConfig.goal_steps


@dataclass(frozen=True)
class CostWeights:
    """Weights of the cost terms (see :mod:`planning.costs` for each term's unit).

    goal:        per metre of mean distance between goal points and their targets.
    reach:       per metre of distance from the goal points' centroid to the nearest robot
                 point, averaged over steps (a shaping term; 0 turns it off).
    approach:    per metre of distance from the nearest robot point to the goal points' back
                 (the side away from where they must go), averaged over steps and scaled
                 down within 2 cm of the goal (a shaping term for pushing; 0 turns it off).
    still:       per metre of mean displacement of the non-goal points (0 turns it off).
    smoothness:  per squared joint acceleration, in units of (velocity_limits * dt) per step.
    size:        per squared joint velocity, in units of (velocity_limits * dt).
    joint_limit: per squared fraction of a joint's range spent inside the limit margin.
    table:       per metre of robot points below the table plane (deepest point, worst step).
    """

    goal: float = 10.0
    reach: float = 0.0
    approach: float = 0.0
    still: float = 0.0
    smoothness: float = 0.01
    size: float = 0.01
    joint_limit: float = 1.0
    table: float = 100.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ValueError(f"CostWeights.{f.name}: expected a finite number >= 0, got {v!r}")


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
    weights:          :class:`CostWeights`.
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
                raise ValueError(f"PlannerConfig.{name}: expected a positive integer, got {v!r}")
        for name in ("dt", "lambda_", "noise_std"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"PlannerConfig.{name}: expected a finite number > 0, got {v!r}")
        if not 0.0 <= self.noise_smoothing < 1.0:
            raise ValueError(f"PlannerConfig.noise_smoothing: expected in [0, 1), got {self.noise_smoothing!r}")
        if not 0.0 < self.noise_decay <= 1.0:
            raise ValueError(f"PlannerConfig.noise_decay: expected in (0, 1], got {self.noise_decay!r}")
        def std_ok(x) -> bool:
            return isinstance(x, int | float) and math.isfinite(x) and x >= 0

        v = self.tool_noise_std
        if isinstance(v, list | tuple):  # per world axis (YAML gives a list)
            if len(v) != 3 or not all(map(std_ok, v)):
                raise ValueError(f"PlannerConfig.tool_noise_std: expected a number >= 0 or three (x, y, z), got {v!r}")
            object.__setattr__(self, "tool_noise_std", tuple(float(x) for x in v))
        elif not std_ok(v):
            raise ValueError(f"PlannerConfig.tool_noise_std: expected a finite number >= 0, got {v!r}")
        if not std_ok(self.tool_rot_noise_std):
            raise ValueError(f"PlannerConfig.tool_rot_noise_std: expected a finite number >= 0, got {self.tool_rot_noise_std!r}")
        if not isinstance(self.tool_damping, int | float) or not 0.0 < self.tool_damping <= 1.0:
            raise ValueError(f"PlannerConfig.tool_damping: expected in (0, 1], got {self.tool_damping!r}")
        v = self.max_tool_speed
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0):
            raise ValueError(f"PlannerConfig.max_tool_speed: expected a number > 0 (m/s) or null, got {v!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"PlannerConfig.output: expected one of {list(OUTPUTS)}, got {self.output!r}")
        if self.goal_steps not in GOAL_STEPS:
            raise ValueError(f"PlannerConfig.goal_steps: expected one of {list(GOAL_STEPS)}, got {self.goal_steps!r}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"PlannerConfig.time_budget_s: expected > 0 or None, got {self.time_budget_s!r}")
        if not 0.0 <= self.joint_limit_margin < 0.5:
            raise ValueError(f"PlannerConfig.joint_limit_margin: expected in [0, 0.5), got {self.joint_limit_margin!r}")
        if isinstance(self.weights, dict):
            object.__setattr__(self, "weights", CostWeights(**self.weights))
        if not isinstance(self.weights, CostWeights):
            raise TypeError(f"PlannerConfig.weights: expected CostWeights or a mapping, got {type(self.weights).__name__}")

    @property
    def tool_noise_xyz(self) -> tuple[float, float, float]:
        """``tool_noise_std`` per world axis (x, y, z)."""
        v = self.tool_noise_std
        return v if isinstance(v, tuple) else (float(v),) * 3

    def replace(self, **changes: Any) -> PlannerConfig:
        """A copy with some fields changed (``weights`` may be a partial mapping)."""
        if isinstance(changes.get("weights"), dict):
            changes["weights"] = replace(self.weights, **changes["weights"])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "planner config") -> PlannerConfig:
        """Build from a mapping; unknown keys raise ``ValueError`` naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping, got {type(data).__name__}")
        data = dict(data)
        if "lambda" in data:
            data["lambda_"] = data.pop("lambda")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown} (expected some of {sorted(known)})")
        w = data.pop("weights", None) or {}
        if not isinstance(w, dict):
            raise ValueError(f"{source}: weights: expected a mapping, got {type(w).__name__}")
        wk = {f.name for f in fields(CostWeights)}
        bad = sorted(set(w) - wk)
        if bad:
            raise ValueError(f"{source}: unknown weights {bad} (expected some of {sorted(wk)})")
        try:
            return cls(**data, weights=CostWeights(**w))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{source}: {e}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> PlannerConfig:
        """Load a planner preset: a path, or a name in ``configs/planner/`` ("default")."""
        import yaml

        p = Path(path)
        if not p.suffix and not p.exists():
            from pointwm.paths import CONFIGS

            p = CONFIGS / "planner" / f"{path}.yaml"
        if not p.is_file():
            raise FileNotFoundError(f"planner config {str(path)!r}: no such file")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ValueError(f"planner config {p}: malformed YAML: {e}") from None
        return cls.from_dict(data, source=f"planner config {p}")
