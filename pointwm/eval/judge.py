"""Plans judged by the simulator: how good is the plan a planner returns, by physics?

Closed-loop success is a coarse, noisy measure of a planner. Here a planner variant plans
against the learned model from a push task's state, and the simulator scores the plan it
returns (the planner's own cost, with the simulator's flows in place of the model's): a
continuous figure that compares variants on the same states. The state is a task's start,
or where ``rounds`` rounds of the closed loop with the learned model leave it (the same
state as :func:`pointwm.eval.closed_loop.run_task` reaches).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from planning import MPPIPlanner, PlannerConfig, RandomShootingPlanner
from pointwm.errors import ConfigError
from pointwm.eval.closed_loop import ClosedLoop, LoopConfig
from pointwm.sim import SimDynamics
from pointwm.tasks.push import COST_TERMS, PushConfig, PushEnv, make_task
from pointwm.tasks.reposition import RepositionMove

__all__ = ["DRIVE_PRESET", "Variant", "judge_plans", "judge_task", "parse_variant", "summary_table"]

DRIVE_PRESET = "closed_loop_progress"  # the planner preset of the learned loop that drives a task
DRIVE_MOVE = RepositionMove()  # and its scripted move (eval-plan --reposition)


@dataclass(frozen=True)
class Variant:
    """A planner variant: a name, ``mppi`` or ``random``, and its settings."""

    name: str
    planner: str
    config: PlannerConfig

    def make(self, seed: int):
        """The planner with the push task's cost terms and sampling seed ``seed``."""
        cls = MPPIPlanner if self.planner == "mppi" else RandomShootingPlanner
        return cls(self.config.replace(seed=seed), cost_terms=COST_TERMS)


def parse_variant(text: str) -> Variant:
    """``NAME=PLANNER:PRESET[:KEY=VALUE,...]``: PLANNER ``mppi`` or ``random``, PRESET a
    planner preset, KEY=VALUE overrides of its fields (JSON values, or words)."""
    name, sep, spec = text.partition("=")
    parts = spec.split(":")
    if not sep or not name or len(parts) not in (2, 3) or parts[0] not in ("mppi", "random"):
        raise ConfigError(f"variant: expected NAME=mppi|random:PRESET[:KEY=VALUE,...], got {text!r}")
    cfg = PlannerConfig.from_yaml(parts[1])
    if len(parts) == 3:
        over = {}
        for kv in parts[2].split(","):
            k, eq, v = kv.partition("=")
            if not eq:
                raise ConfigError(f"variant: expected KEY=VALUE in {text!r}, got {kv!r}")
            try:
                over[k] = json.loads(v)
            except json.JSONDecodeError:
                over[k] = v
        cfg = cfg.replace(**over)
    return Variant(name, parts[0], cfg)


def judge_plans(variants: list[Variant], model, judge, scene, robot, q0, goal, planner_seeds: int) -> dict:
    """For each variant, plan against ``model`` with planner seeds 0..planner_seeds-1 and
    score each returned plan with ``judge`` (any planning dynamics, e.g. the simulator).

    scene: PointCloud (N points); q0: (J,) start joints; goal: a ``planning.Goal``.
    Returns {name: {"judged": [cost per seed], "judged_goal": [goal term per seed],
    "predicted": [the plan's own cost per seed]}}.
    """
    out = {}
    for v in variants:
        rows = {"judged": [], "judged_goal": [], "predicted": []}
        for s in range(planner_seeds):
            planner = v.make(s)
            plan = planner.plan(model, scene, robot, q0, goal)
            cost, terms = planner.score(judge, scene, robot, q0, goal, plan.actions)
            rows["judged"].append(float(cost[0]))
            rows["judged_goal"].append(float(terms["goal"][0]))
            rows["predicted"].append(float(plan.cost))
        out[v.name] = rows
    return out


def judge_task(seed: int, variants: list[Variant], model, robot, planner_seeds: int, rounds: int = 0,
               task: PushConfig | None = None, loop: LoopConfig | None = None,
               move: RepositionMove | None = DRIVE_MOVE) -> dict:
    """Judge the variants' plans from push task ``seed``'s state after ``rounds`` rounds of
    the closed loop (MPPI with ``model``, the :data:`DRIVE_PRESET` preset, ``loop`` and the
    scripted ``move``). Returns {"seed", "rounds", "skipped": reason or None, "variants":
    :func:`judge_plans`' result}; a task solved by then, or whose object the robot hides, is
    skipped."""
    task_cfg, loop = task or PushConfig(), loop or LoopConfig()
    drive = MPPIPlanner(PlannerConfig.from_yaml(DRIVE_PRESET), cost_terms=COST_TERMS)
    T, dt = drive.config.T, drive.config.dt
    env = PushEnv(make_task(seed, task_cfg, robot, T, dt), robot, task_cfg, T, dt)
    cl = ClosedLoop(env, drive, lambda env, seg: model, loop, move)
    while cl.rounds < rounds and not cl.finished:
        cl.round()
    out = {"seed": seed, "rounds": rounds, "skipped": None, "variants": {}}
    if env.solved():
        out["skipped"] = f"solved within {rounds} rounds"
        return out
    cloud, seg = env.observe(cl.rng)
    mask = env.object_mask(seg)
    if not bool(mask.any()):
        out["skipped"] = f"the object is out of view after {rounds} rounds"
        return out
    q0 = torch.from_numpy(env.q).float()
    out["variants"] = judge_plans(variants, model, SimDynamics(env.world, seg), cloud, robot, q0, env.goal(cloud, mask),
                                  planner_seeds)
    return out


def summary_table(results: list[dict], reference: str) -> str:
    """Markdown table over judged tasks: per variant, the simulator's mean cost of its
    plans, the ratio to ``reference``'s, the spread over planner seeds, the model's own
    predicted cost and the states where it beat the reference."""
    judged = [r for r in results if not r["skipped"]]
    names = list(judged[0]["variants"]) if judged else []
    ref = np.array([r["variants"][reference]["judged"] for r in judged])
    lines = [f"| variant | simulator's cost of the plan (mean) | ratio to {reference} | spread over planner seeds "
             f"(mean std) | model's predicted cost (mean) | states better than {reference} |",
             "|---|---:|---:|---:|---:|---:|"]
    for n in names:
        J = np.array([r["variants"][n]["judged"] for r in judged])
        pred = np.mean([p for r in judged for p in r["variants"][n]["predicted"]])
        better = int((J.mean(1) < ref.mean(1)).sum())
        lines.append(f"| {n} | {J.mean():.3f} | {J.mean() / ref.mean():.2f} | {J.std(1).mean():.3f} | "
                     f"{pred:.3f} | {better}/{len(J)} |")
    return "\n".join(lines) + "\n"
