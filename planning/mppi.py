"""Model-predictive path integral control (MPPI) over joint-position sequences.

Williams, Aldrich, Theodorou, "Information Theoretic MPC for Model-Based Reinforcement
Learning", ICRA 2017 (MPPI). Each iteration samples K joint-position sequences (T, J)
around a mean with temporally smooth noise, projects every sample onto the robot's joint
position and velocity limits, rolls all K out through the dynamics as robot point flows,
scores them, and moves the mean to the softmax(-S / lambda)-weighted average of the samples.
The plan returned is the best candidate evaluated (``output: best``) or the final mean,
rolled out once more (``output: mean``, the paper's control).

The planner knows nothing about the robot beyond what ``RobotModel`` gives (J, limits,
``point_flow``), nothing about the dynamics beyond its call signature, and keeps no state
between calls: ``plan`` returns a :class:`Plan` that carries what the next warm start needs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from planning.config import PlannerConfig
from planning.costs import GENERIC_TERMS, CostInputs, CostTerm, JointLimits, term_names, total_cost
from planning.dynamics import Rollout, as_dynamics
from planning.errors import PlanningError
from planning.goal import Goal, ResolvedGoal

__all__ = [
    "MPPIPlanner",
    "Plan",
    "PlanningError",
    "RandomShootingPlanner",
    "limit_tool_speed",
    "project_to_limits",
    "shift_sequence",
]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, float], None]  # (iteration, iterations, best cost)


@dataclass(frozen=True, eq=False)
class Plan:
    """The result of one ``plan`` call.

    actions:        (T, J) joint-position targets for steps 1..T (rad, m): the lowest-cost
                    candidate evaluated, or the final mean with ``output: mean`` (both
                    respect the limits).
    q0:             (J,) the start configuration.
    predicted_flow: (T, N, 3) predicted scene displacements under ``actions`` (m).
    robot_flow:     (T+1, M, 3) robot points along q0 + actions (m).
    cost:           total cost of ``actions``; cost_terms: its weighted terms by name.
    cost_history:   best cost so far after each iteration.
    mean:           (T, J) the MPPI mean after the last update (what warm starts shift).
    samples:        rollouts evaluated; elapsed_s: wall time; stopped_early: the time
                    budget ended the iterations.
    """

    actions: Tensor
    q0: Tensor
    predicted_flow: Tensor
    robot_flow: Tensor
    cost: float
    cost_terms: dict[str, float]
    cost_history: tuple[float, ...]
    mean: Tensor
    samples: int
    elapsed_s: float
    stopped_early: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def shifted(self, steps: int = 1) -> Tensor:
        """(T, J) the mean shifted by ``steps``, the last target repeated (warm start)."""
        return shift_sequence(self.mean, steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no flows)."""
        return {
            "actions": self.actions.tolist(),
            "q0": self.q0.tolist(),
            "cost": self.cost,
            "cost_terms": dict(self.cost_terms),
            "cost_history": list(self.cost_history),
            "samples": self.samples,
            "elapsed_s": round(self.elapsed_s, 4),
            "stopped_early": self.stopped_early,
            **self.info,
        }


def shift_sequence(seq: Tensor, steps: int) -> Tensor:
    """(T, J) joint targets ``seq`` advanced by ``steps`` (at most T - 1), the last target
    repeated at the end: what remains of a plan after executing its first ``steps``."""
    if steps < 0:
        raise PlanningError(f"shift_sequence: steps must be >= 0, got {steps}")
    T = seq.shape[0]
    s = min(steps, T - 1) if T > 1 else 0
    return torch.cat([seq[s:], seq[-1:].expand(s, -1)], dim=0)


def project_to_limits(q: Tensor, q0: Tensor, lower: Tensor, upper: Tensor, step_bound: Tensor) -> Tensor:
    """Project joint-position sequences onto the position and velocity limits.

    q: (..., T, J) targets for steps 1..T; q0: (J,) start (inside the limits);
    lower/upper: (J,) position limits; step_bound: (J,) largest move per step
    (velocity_limits * dt). Returns (..., T, J) with lower <= q_t <= upper and
    |q_t - q_{t-1}| <= step_bound for every t (q_0 = q0): each step is clamped to the
    velocity bound from the projected previous step, then to the position box (which,
    since the previous step is inside the box, never lengthens the step).
    """
    out = torch.empty_like(q)
    prev = q0.to(q).expand_as(q[..., 0, :])
    for t in range(q.shape[-2]):
        step = torch.clamp(q[..., t, :] - prev, -step_bound, step_bound)
        prev = torch.clamp(prev + step, lower, upper)
        out[..., t, :] = prev
    return out


def limit_tool_speed(q: Tensor, q0: Tensor, robot: Any, max_step: float, step_bound: Tensor | None = None,
                     passes: int = 8) -> Tensor:
    """Slow joint-position sequences down where a tool link moves more than ``max_step``.

    q: (..., T, J) targets for steps 1..T inside the position limits, q_0 = q0; robot: a
    RobotModel with ``tool_link_names``; max_step: metres per step; step_bound: (J,) largest
    joint move per step (``project_to_limits``'s; None: none). Each step, clamped to
    step_bound from the previous (already limited) target, is shrunk towards that target,
    q_t = q_{t-1} + s (q_t - q_{t-1}), with s in (0, 1] set from the tool displacement by
    forward kinematics (up to ``passes`` rescalings aiming 0.5 % under the cap: it holds to
    well under 1 %). Both ends lie inside the position box, so every limit still holds.
    Only shrinks steps: a slowed path ends short of where it was heading.
    """
    tools = [robot.link_names.index(n) for n in robot.tool_link_names]
    lead, (T, J) = q.shape[:-2], q.shape[-2:]
    flat = q.reshape(-1, T, J)
    prev = q0.to(flat).expand(flat.shape[0], J).clone()

    def tool_xyz(x: Tensor) -> Tensor:  # (B, J) -> (B, E, 3)
        return robot.link_poses(x.double(), validate=False)[:, tools, :3, 3]

    bound = None if step_bound is None else step_bound.to(flat)
    out = torch.empty_like(flat)
    p_prev = tool_xyz(prev)
    for t in range(T):
        step = flat[:, t] - prev
        if bound is not None:
            step = torch.clamp(step, -bound, bound)
        cand, scale = prev + step, torch.ones(flat.shape[0], dtype=torch.float64)
        for i in range(passes + 1):  # the last pass only measures
            p = tool_xyz(cand)
            moved = (p - p_prev).norm(dim=-1).amax(dim=-1)  # (B,) the fastest tool
            over = moved > max_step
            if i == passes or not bool(over.any()):
                break
            scale = torch.where(over, scale * 0.995 * max_step / moved.clamp_min(1e-12), scale)
            cand = prev + scale[:, None].to(flat) * step
        out[:, t], prev, p_prev = cand, cand, p
    return out.reshape(*lead, T, J)


@dataclass(frozen=True)
class _Problem:
    """One plan() call's checked inputs: the dynamics, the scene points xyz (N, 3) float32,
    q0 (J,), the resolved goal, the initial mean (T, J) and the joint limits."""

    dynamics: Callable[[Any, Rollout], Tensor]
    scene: Any
    robot: Any
    xyz: Tensor
    q0: Tensor
    goal: ResolvedGoal
    mean: Tensor
    limits: JointLimits


@dataclass(frozen=True)
class _Batch:
    """An evaluated batch of K candidates: actions (K, T, J), total cost S (K,), weighted
    terms by name (K,) each, flows (K, T, N, 3) and robot flows (K, T+1, M, 3)."""

    actions: Tensor
    S: Tensor
    terms: dict[str, Tensor]
    flows: Tensor
    robot_flows: Tensor

    def pick(self, k: int) -> _Pick:
        """Candidate ``k``, detached from the batch."""
        return _Pick(float(self.S[k]), self.actions[k].clone(), self.flows[k].clone(),
                     self.robot_flows[k].float().clone(), {n: float(v[k]) for n, v in self.terms.items()})


@dataclass(frozen=True)
class _Pick:
    """One candidate: its cost, actions (T, J), flow (T, N, 3), robot flow (T+1, M, 3) and terms."""

    cost: float
    actions: Tensor
    flow: Tensor
    robot_flow: Tensor
    terms: dict[str, float]


class _SamplingPlanner:
    """Shared machinery: limits, sampling, rollout and scoring of candidate batches.

    config: the planner's settings. cost_terms: the task's own cost terms by name
    (:data:`planning.costs.CostTerm` callables, such as ``pointwm.tasks.push.COST_TERMS``),
    added to the generic ones; each counts with its weight in ``config.weights``. Every
    non-zero weight must name a generic or a given term (a zero weight is a term turned off).
    """

    def __init__(self, config: PlannerConfig | None = None, cost_terms: Mapping[str, CostTerm] | None = None) -> None:
        config = config if config is not None else PlannerConfig()
        if not isinstance(config, PlannerConfig):
            raise TypeError(f"config: expected a PlannerConfig, got {type(config).__name__}")
        cost_terms = dict(cost_terms or {})
        clash = sorted(set(cost_terms) & set(GENERIC_TERMS))
        if clash:
            raise PlanningError(f"cost_terms: {clash} are the planner's own terms; give task terms other names")
        unknown = sorted(n for n, w in config.weights.items() if w > 0 and n not in GENERIC_TERMS and n not in cost_terms)
        if unknown:
            raise PlanningError(
                f"PlannerConfig.weights names cost terms that nothing provides: {unknown} (the planner's own: "
                f"{list(GENERIC_TERMS)}; a task's terms are given as cost_terms, e.g. pointwm.tasks.push.COST_TERMS)"
            )
        self.config = config
        self.cost_terms = cost_terms

    @property
    def term_names(self) -> tuple[str, ...]:
        """The cost terms a plan reports, in the order they are summed."""
        return term_names(self.cost_terms)

    # -------------------------------------------------------------- set-up and checks
    def _setup(self, world_model, scene, robot, q0, goal, warm_start, workspace) -> _Problem:
        cfg = self.config
        dynamics = as_dynamics(world_model)
        model_T = getattr(getattr(world_model, "config", None), "num_steps", None)
        if isinstance(model_T, int) and model_T != cfg.T:
            raise PlanningError(
                f"world_model predicts T = {model_T} steps, so its robot flows need {model_T + 1} steps; "
                f"the planner's horizon is T = {cfg.T} (set PlannerConfig.T = {model_T})"
            )
        xyz = getattr(scene, "xyz", scene)
        if not isinstance(xyz, Tensor) or xyz.ndim != 2 or xyz.shape[1] != 3 or xyz.shape[0] == 0:
            raise PlanningError(f"scene: expected a PointCloud (or (N, 3) tensor) with N >= 1, got {getattr(xyz, 'shape', type(xyz).__name__)}")
        xyz = xyz.float()
        for attr in ("joint_names", "lower", "upper", "velocity_limits", "point_flow"):
            if not hasattr(robot, attr):
                raise TypeError(f"robot: expected a kinematics.RobotModel (missing {attr!r}), got {type(robot).__name__}")
        J = len(robot.joint_names)
        dev = xyz.device
        lower = robot.lower.to(dev, torch.float32)
        upper = robot.upper.to(dev, torch.float32)
        step_bound = (robot.velocity_limits.to(dev, torch.float32) * cfg.dt).clamp_min(1e-9)
        q0 = torch.as_tensor(q0, dtype=torch.float32, device=dev)
        if q0.shape != (J,):
            raise PlanningError(f"q0: expected shape ({J},) for the joints {list(robot.joint_names)}, got {tuple(q0.shape)}")
        if not bool(torch.isfinite(q0).all()):
            raise PlanningError("q0: contains NaN or inf")
        tol = 1e-5
        bad = ((q0 < lower - tol) | (q0 > upper + tol)).nonzero().flatten().tolist()
        if bad:
            detail = ", ".join(
                f"{robot.joint_names[i]}={float(q0[i]):.4f} not in [{float(lower[i]):.4f}, {float(upper[i]):.4f}]" for i in bad
            )
            raise PlanningError(f"q0 outside the joint limits of robot {getattr(robot, 'name', '?')!r}: {detail}")
        q0 = torch.clamp(q0, lower, upper)
        if isinstance(goal, str):
            goal = Goal.parse(goal)
        if isinstance(goal, Goal):
            goal = goal.resolve(xyz, cfg.T, workspace)
        if not isinstance(goal, ResolvedGoal):
            raise TypeError(f"goal: expected a Goal, goal text or ResolvedGoal, got {type(goal).__name__}")
        if goal.mask.shape[0] != xyz.shape[0]:
            raise PlanningError(f"goal: resolved for {goal.mask.shape[0]} points, the scene has {xyz.shape[0]}")
        if warm_start is None:
            mean = q0.expand(cfg.T, J).clone()
        else:
            mean = warm_start.shifted(1) if isinstance(warm_start, Plan) else torch.as_tensor(warm_start)
            mean = mean.to(dev, torch.float32)
            if mean.shape != (cfg.T, J):
                raise PlanningError(f"warm_start: expected a Plan or a ({cfg.T}, {J}) tensor, got {tuple(mean.shape)}")
        mean = project_to_limits(mean, q0, lower, upper, step_bound)
        return _Problem(dynamics, scene, robot, xyz, q0, goal, mean, JointLimits(lower, upper, step_bound))

    def _tool_map(self, robot, q0: Tensor, mean: Tensor) -> Tensor | None:
        """(T, J, 6E) damped pseudo-inverses of the tool Jacobian at q0, mean[0], ...,
        mean[T-2] (gripper columns zeroed), or None when tool noise is off."""
        cfg = self.config
        if not any(cfg.tool_noise_xyz) and cfg.tool_rot_noise_std == 0:
            return None
        if not getattr(robot, "tool_link_names", None) or not callable(getattr(robot, "tool_jacobian", None)):
            raise PlanningError(
                f"PlannerConfig.tool_noise_std > 0 needs a robot with tool links "
                f"(robot {getattr(robot, 'name', '?')!r} has none; set tool_links in its YAML or tool_noise_std: 0)"
            )
        states = torch.cat([q0[None], mean[:-1]], dim=0).double()  # (T, J)
        jac = robot.tool_jacobian(states, validate=False).to(states)  # (T, 6E, J)
        grip = [robot.joint_names.index(n) for n in getattr(robot, "gripper_joint_names", ())]
        if grip:
            jac[..., grip] = 0.0
        eye = torch.eye(jac.shape[1], dtype=jac.dtype)
        pinv = jac.transpose(1, 2) @ torch.linalg.inv(jac @ jac.transpose(1, 2) + cfg.tool_damping**2 * eye)
        return pinv.to(mean)

    def _sample(self, mean: Tensor, q0, lower, upper, step_bound, K: int, std_frac: float,
                gen: torch.Generator, tool_map: Tensor | None = None) -> Tensor:
        """(K, T, J) projected samples; sample 0 is the mean itself.

        Noise: AR(1)-smoothed increments (stationary, coefficient ``noise_smoothing``) with
        std ``std_frac * step_bound``, accumulated along time and added to the mean. With a
        ``tool_map`` (:meth:`_tool_map`), AR(1)-smoothed tool moves (std ``tool_noise_std``
        m per world axis and ``tool_rot_noise_std`` rad per step, decayed like ``std_frac``) mapped to
        joint increments are added as well.
        """
        T, J = mean.shape
        cfg = self.config
        steps = self._ar1(torch.randn(K, T, J, generator=gen, device=mean.device, dtype=mean.dtype))
        steps = steps * (std_frac * step_bound)
        if tool_map is not None:
            E6 = tool_map.shape[-1]
            w = self._ar1(torch.randn(K, T, E6, generator=gen, device=mean.device, dtype=mean.dtype))
            axis_std = torch.tensor([*cfg.tool_noise_xyz] + [cfg.tool_rot_noise_std] * 3, dtype=mean.dtype)
            w = w * axis_std.repeat(E6 // 6) * (std_frac / cfg.noise_std)
            steps = steps + torch.einsum("tjc,ktc->ktj", tool_map, w)
        noise = torch.cumsum(steps, dim=1)
        noise[0] = 0.0
        return project_to_limits(mean + noise, q0, lower, upper, step_bound)

    def _tool_speed(self, robot, q0: Tensor, samples: Tensor, step_bound: Tensor) -> Tensor:
        """``samples`` slowed to ``max_tool_speed`` (unchanged when that is None)."""
        v = self.config.max_tool_speed
        if v is None:
            return samples
        if not getattr(robot, "tool_link_names", None):
            raise PlanningError(
                f"PlannerConfig.max_tool_speed needs a robot with tool links (robot "
                f"{getattr(robot, 'name', '?')!r} has none; set tool_links in its YAML or max_tool_speed: null)"
            )
        return limit_tool_speed(samples, q0, robot, v * self.config.dt, step_bound)

    def _ar1(self, w: Tensor) -> Tensor:
        """Stationary AR(1) along dim 1 (coefficient ``noise_smoothing``, unit variance)."""
        beta = self.config.noise_smoothing
        e = torch.empty_like(w)
        e[:, 0] = w[:, 0]
        c = math.sqrt(1.0 - beta * beta)
        for t in range(1, w.shape[1]):
            e[:, t] = beta * e[:, t - 1] + c * w[:, t]
        return e

    def _evaluate(self, p: _Problem, samples: Tensor) -> _Batch:
        """Roll out (K, T, J) samples through the dynamics and score them."""
        K, T, J = samples.shape
        q_traj = torch.cat([p.q0.expand(K, 1, J), samples], dim=1)  # (K, T+1, J)
        robot_flows = p.robot.point_flow(q_traj, validate=False)
        M = getattr(p.robot, "num_points", robot_flows.shape[-2])
        if robot_flows.shape != (K, T + 1, M, 3):
            raise PlanningError(f"robot.point_flow: expected ({K}, {T + 1}, {M}, 3), got {tuple(robot_flows.shape)}")
        rollout = Rollout(q_traj, robot_flows)
        flows = p.dynamics(p.scene, rollout)
        N = p.xyz.shape[0]
        if not isinstance(flows, Tensor) or tuple(flows.shape) != (K, T, N, 3):
            shape = tuple(flows.shape) if isinstance(flows, Tensor) else type(flows).__name__
            raise PlanningError(f"dynamics: expected scene flows of shape ({K}, {T}, {N}, 3), got {shape}")
        flows = flows.to(p.xyz.device, torch.float32)
        if not bool(torch.isfinite(flows).all()):
            raise PlanningError("dynamics: returned NaN or inf scene flows")
        inputs = CostInputs(p.xyz, flows, Rollout(q_traj, robot_flows.float()), p.goal, p.limits, self.config)
        total, terms = total_cost(inputs, self.cost_terms)
        return _Batch(samples, total, terms, flows, robot_flows)

    def score(self, dynamics: Any, scene: Any, robot: Any, q0: Any, goal: Goal | ResolvedGoal | str,
              actions: Tensor, *, workspace: tuple | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """The planner's cost of given action sequences under ``dynamics``: actions (B, T, J)
        or (T, J) joint targets (rad, m) from q0 (J,), scored as :meth:`plan` scores its
        candidates (e.g. a plan judged with a simulator in place of the model it was made
        with). Returns the total (B,) and the weighted terms by name, (B,) each."""
        p = self._setup(dynamics, scene, robot, q0, goal, None, workspace)
        a = torch.as_tensor(actions, dtype=torch.float32, device=p.xyz.device)
        a = a[None] if a.ndim == 2 else a
        if a.ndim != 3 or tuple(a.shape[1:]) != tuple(p.mean.shape):
            raise PlanningError(f"actions: expected (B, {p.mean.shape[0]}, {p.mean.shape[1]}), got {tuple(a.shape)}")
        batch = self._evaluate(p, a)
        return batch.S, batch.terms

    def _progress(self, progress):
        if callable(progress):
            return progress, None
        if progress:
            bar = tqdm(total=self._iterations(), desc="plan", unit="it", leave=False)

            def cb(i, n, best):
                bar.update(1)
                bar.set_postfix(cost=f"{best:.4f}")

            return cb, bar
        return None, None

    def _iterations(self) -> int:
        return self.config.iterations


class MPPIPlanner(_SamplingPlanner):
    """MPPI (Williams et al. 2017) over joint-position sequences; see the module docstring."""

    def plan(
        self,
        world_model: Any,
        scene: Any,
        robot: Any,
        q0: Any,
        goal: Goal | ResolvedGoal | str,
        warm_start: Plan | Tensor | None = None,
        *,
        workspace: tuple | None = None,
        progress: bool | ProgressFn = False,
        time_budget_s: float | None = None,
    ) -> Plan:
        """Plan T steps from q0 towards the goal.

        world_model: a WorldModel (``predict`` is used) or any ``planning.Dynamics`` callable.
        scene: PointCloud (xyz (N, 3) m, world frame). robot: kinematics.RobotModel.
        q0: (J,) joint positions (rad, m), inside the limits. goal: Goal, its text form, or a
        ResolvedGoal. warm_start: the previous Plan (its mean is shifted by one step) or a
        (T, J) mean. workspace: optional (lo, hi) that goal targets must lie in.
        progress: True for a tqdm bar, or a callback (iteration, iterations, best cost).
        time_budget_s: overrides the config's; iterations stop once the next would overrun
        it and the best plan so far is returned (at least one iteration always runs).
        """
        cfg = self.config
        t_start = time.perf_counter()
        budget = time_budget_s if time_budget_s is not None else cfg.time_budget_s
        p = self._setup(world_model, scene, robot, q0, goal, warm_start, workspace)
        lim = p.limits
        gen = torch.Generator(device=p.xyz.device).manual_seed(cfg.seed)
        cb, bar = self._progress(progress)
        best: _Pick | None = None
        history: list[float] = []
        n_eval, stopped = 0, False
        std = cfg.noise_std
        mean = p.mean
        last_iter = 0.0
        try:
            for it in range(cfg.iterations):
                now = time.perf_counter() - t_start
                if it > 0 and budget is not None and now + last_iter > budget:
                    stopped = True
                    log.info("MPPI: time budget %.2f s reached after %d iteration(s)", budget, it)
                    break
                t_it = time.perf_counter()
                tool_map = self._tool_map(robot, p.q0, mean)
                samples = self._sample(mean, p.q0, lim.lower, lim.upper, lim.step_bound, cfg.K, std, gen, tool_map)
                samples = self._tool_speed(robot, p.q0, samples, lim.step_bound)
                batch = self._evaluate(p, samples)
                S = batch.S
                n_eval += cfg.K
                k = int(torch.argmin(S))
                if best is None or float(S[k]) < best.cost:
                    best = batch.pick(k)
                # MPPI update: w_k = exp(-(S_k - min S) / lambda) / sum, mean = sum_k w_k a_k.
                weights = torch.softmax(-(S - S.min()) / cfg.lambda_, dim=0)
                mean = project_to_limits((weights[:, None, None] * samples).sum(0), p.q0, lim.lower, lim.upper,
                                         lim.step_bound)
                std *= cfg.noise_decay
                history.append(best.cost)
                last_iter = time.perf_counter() - t_it
                log.debug("MPPI iteration %d/%d: best %.5f, mean-sample %.5f, ess %.1f, %.2f s",
                          it + 1, cfg.iterations, best.cost, float(S[0]), float(1.0 / weights.square().sum()), last_iter)
                if cb is not None:
                    cb(it + 1, cfg.iterations, best.cost)
        finally:
            if bar is not None:
                bar.close()
        if cfg.output == "mean":  # Williams et al.'s control: the weighted mean, rolled out once
            mean = self._tool_speed(robot, p.q0, mean, lim.step_bound)
            best = self._evaluate(p, mean[None]).pick(0)
            n_eval += 1
        return Plan(best.actions, p.q0, best.flow, best.robot_flow, best.cost, best.terms, tuple(history), mean,
                    n_eval, time.perf_counter() - t_start, stopped,
                    {"planner": "mppi", "iterations": len(history), "output": cfg.output})


class RandomShootingPlanner(_SamplingPlanner):
    """Random shooting: one batch of K * iterations samples (MPPI's budget), keep the best.

    Same sampler, limits, rollout and costs as :class:`MPPIPlanner`, no weighted update;
    the baseline that MPPI must beat for the same number of rollouts.
    """

    def _iterations(self) -> int:
        return 1

    def plan(self, world_model, scene, robot, q0, goal, warm_start=None, *, workspace=None,
             progress: bool | ProgressFn = False, time_budget_s: float | None = None) -> Plan:
        """As :meth:`MPPIPlanner.plan`; the budget is not split (one batch)."""
        cfg = self.config
        t_start = time.perf_counter()
        p = self._setup(world_model, scene, robot, q0, goal, warm_start, workspace)
        lim = p.limits
        gen = torch.Generator(device=p.xyz.device).manual_seed(cfg.seed)
        K = cfg.K * cfg.iterations
        samples = self._sample(p.mean, p.q0, lim.lower, lim.upper, lim.step_bound, K, cfg.noise_std, gen,
                               self._tool_map(robot, p.q0, p.mean))
        samples = self._tool_speed(robot, p.q0, samples, lim.step_bound)
        batch = self._evaluate(p, samples)
        k = int(torch.argmin(batch.S))
        best = batch.pick(k)
        cb, bar = self._progress(progress)
        if cb is not None:
            cb(1, 1, best.cost)
        if bar is not None:
            bar.close()
        return Plan(best.actions, p.q0, best.flow, best.robot_flow, best.cost, best.terms, (best.cost,),
                    best.actions.clone(), K, time.perf_counter() - t_start, False,
                    {"planner": "random_shooting", "iterations": 1})
