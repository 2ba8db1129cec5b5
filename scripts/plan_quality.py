"""Plan quality judged by the simulator: from the start state of eval-plan's push tasks, each
planner variant plans against the learned model with several planner seeds, and the simulator
scores the plan it returns (the planner's own cost, with the simulator's flows in place of the
model's). Closed-loop success is a coarse, noisy measure of a planner; this one is continuous
and compares variants on the same states (README, "Closed loop in simulation").

    .venv/bin/python scripts/plan_quality.py --seeds 2 5 7 9 13 20 --planner-seeds 4
    .venv/bin/python scripts/plan_quality.py --seeds 2 4 6 12 16 18 20 28 30 32 --rounds 3   # later states
    .venv/bin/python scripts/plan_quality.py --seeds 2 5 --variants rs=random:closed_loop_progress \\
        mppi_mean=mppi:closed_loop_progress:output=mean --out runs/plan_quality.jsonl

``--rounds N`` first drives each task N rounds as ``eval-plan --config closed_loop_progress
--reposition`` does with the learned model (plan and execute 3 steps, or the repositioning
move), and judges from where that leaves it (the same state as ``run_task`` reaches: tested).
Tasks already solved by then, or whose object the robot hides, are skipped.

A variant is ``NAME=PLANNER:PRESET[:KEY=VALUE,...]`` with PLANNER ``mppi`` or ``random`` and
PRESET a planner preset; KEY=VALUE override its fields (numbers or words). The first variant
is the reference of the ratios. One process, one thread; one JSON line per task and variant
is appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
import torch

DEFAULT_VARIANTS = (
    "random=random:closed_loop_progress",
    "mppi_32x2=mppi:closed_loop_progress",
    "mppi_16x4=mppi:closed_loop_refine",
)


def parse_variant(text: str):
    """``NAME=PLANNER:PRESET[:KEY=VALUE,...]`` -> (name, planner class, PlannerConfig)."""
    from planning import MPPIPlanner, PlannerConfig, RandomShootingPlanner

    name, sep, spec = text.partition("=")
    parts = spec.split(":")
    if not sep or not name or len(parts) not in (2, 3) or parts[0] not in ("mppi", "random"):
        raise ValueError(f"--variants: expected NAME=mppi|random:PRESET[:KEY=VALUE,...], got {text!r}")
    cfg = PlannerConfig.from_yaml(parts[1])
    if len(parts) == 3:
        over = {}
        for kv in parts[2].split(","):
            k, eq, v = kv.partition("=")
            if not eq:
                raise ValueError(f"--variants: expected KEY=VALUE in {text!r}, got {kv!r}")
            try:
                over[k] = json.loads(v)
            except json.JSONDecodeError:
                over[k] = v
        cfg = cfg.replace(**over)
    return name, (MPPIPlanner if parts[0] == "mppi" else RandomShootingPlanner), cfg


def judge_plans(variants, model, judge, scene, robot, q0, goal, planner_seeds: int):
    """For each ``(name, planner class, config)``, plan against ``model`` with planner seeds
    0..planner_seeds-1 and score each returned plan with ``judge`` (any planning dynamics).

    Returns {name: {"judged": [cost per seed], "judged_goal": [goal term per seed],
    "predicted": [the plan's own cost per seed]}}.
    """
    out = {}
    for name, cls, cfg in variants:
        rows = {"judged": [], "judged_goal": [], "predicted": []}
        for s in range(planner_seeds):
            planner = cls(cfg.replace(seed=s))
            plan = planner.plan(model, scene, robot, q0, goal)
            _, xyz, q, rgoal, _, lo, up, bound = planner._setup(model, scene, robot, q0, goal, None, None)
            cost, terms, _, _ = planner._evaluate(judge, scene, robot, xyz, q, plan.actions[None], rgoal, lo, up, bound)
            rows["judged"].append(float(cost[0]))
            rows["judged_goal"].append(float(terms["goal"][0]))
            rows["predicted"].append(float(plan.cost))
        out[name] = rows
    return out


def drive(env, task, robot, model, rounds: int, rng) -> None:
    """``rounds`` rounds of eval-plan's loop (``closed_loop_progress``, ``--reposition``) with
    MPPI and ``model``: the states the closed loop visits."""
    from planning import Goal, MPPIPlanner, PlannerConfig
    from pointwm.eval import closed_loop as cl

    pcfg = PlannerConfig.from_yaml("closed_loop_progress")
    ecfg = env.cfg
    planner, warm, moved = MPPIPlanner(pcfg), None, False
    for _ in range(rounds):
        cloud, seg = env.observe(rng)
        mask = torch.from_numpy(seg == task.obj + 1)
        if not bool(mask.any()):
            break
        disp = cl.goal_displacement(np.asarray(task.target_xy), env.object_xy())
        if not moved:
            path = cl.repositioning_move(robot, env.q, cloud.xyz[mask].double().numpy(), disp,
                                         ecfg.reposition_clearance, pcfg.T, pcfg.dt, ecfg.reposition_over)
            if path is not None:
                env.execute(path)
                warm, moved = None, len(path) < pcfg.T
                continue
        moved = False
        plan = planner.plan(model, cloud, robot, torch.from_numpy(env.q).float(), Goal(mask=mask, displacement=disp),
                            warm_start=warm)
        env.execute(plan.actions[: ecfg.execute_steps].double().numpy())
        warm = plan.shifted(ecfg.execute_steps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, nargs="+", default=[Path("assets/checkpoints/tiny_sim.safetensors")])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 5, 7, 9, 13, 20], help="task seeds (eval-plan's)")
    ap.add_argument("--planner-seeds", type=int, default=4, help="planner seeds per task and variant (default: %(default)s)")
    ap.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), metavar="NAME=PLANNER:PRESET[:K=V,...]")
    ap.add_argument("--rounds", type=int, default=0,
                    help="judge after this many rounds of the closed loop with the learned model (default: %(default)s, the start state)")
    ap.add_argument("--out", type=Path, default=None, help="append one JSON line per task and variant")
    args = ap.parse_args()
    if args.rounds < 0:
        ap.error(f"--rounds: expected at least 0, got {args.rounds}")
    if args.planner_seeds < 1:
        ap.error(f"--planner-seeds: expected at least 1, got {args.planner_seeds}")
    try:
        variants = [parse_variant(v) for v in args.variants]
    except (ValueError, FileNotFoundError) as e:
        ap.error(str(e))
    budgets = {n: c.K * c.iterations for n, _, c in variants}
    if len(set(budgets.values())) > 1:
        print(f"warning: the variants' sample budgets differ: {budgets}", file=sys.stderr)

    from kinematics import load_robot
    from planning import Goal
    from pointwm.eval import closed_loop as cl
    from pointwm.model.ensemble import load_models

    torch.set_num_threads(1)
    robot = load_robot("panda")
    T, dt = variants[0][2].T, variants[0][2].dt
    ecfg = cl.EvalConfig(reposition=True)
    model = load_models(args.checkpoint)
    totals: dict[str, list[list[float]]] = {n: [] for n, _, _ in variants}
    predicted: dict[str, list[float]] = {n: [] for n, _, _ in variants}
    for seed in args.seeds:
        t0 = time.perf_counter()
        task = cl.make_task(seed, ecfg, robot, T, dt)
        env = cl.SimEnv(task, robot, ecfg, T, dt)
        rng = np.random.default_rng(task.seed)  # as run_task's captures
        drive(env, task, robot, model, args.rounds, rng)
        if np.linalg.norm(env.object_xy() - np.asarray(task.target_xy)) <= ecfg.success_radius:
            print(f"seed {seed}: solved within {args.rounds} rounds; skipped", flush=True)
            continue
        cloud, seg = env.observe(rng)
        mask = torch.from_numpy(seg == task.obj + 1)
        if not bool(mask.any()):
            print(f"seed {seed}: the object is out of view after {args.rounds} rounds; skipped", flush=True)
            continue
        goal = Goal(mask=mask, displacement=cl.goal_displacement(np.asarray(task.target_xy), env.object_xy()))
        res = judge_plans(variants, model, cl.SimDynamics(env, seg), cloud, robot,
                          torch.from_numpy(env.q).float(), goal, args.planner_seeds)
        line = []
        for n, r in res.items():
            totals[n].append(r["judged"])
            predicted[n] += r["predicted"]
            line.append(f"{n} {np.mean(r['judged']):.3f}")
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with open(args.out, "a") as f:
                    f.write(json.dumps({"seed": seed, "rounds": args.rounds, "variant": n, **r}) + "\n")
        print(f"seed {seed} (simulator's cost of the plan, mean over planner seeds): {', '.join(line)}; "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    ref = variants[0][0]
    if not totals[ref]:
        print("no task left to judge")
        return 0
    ref_mean = float(np.mean(totals[ref]))
    n_states = len(totals[ref])
    where = "start states" if args.rounds == 0 else f"states after {args.rounds} rounds"
    print(f"\n{n_states} task {where} x {args.planner_seeds} planner seeds; lower is better\n")
    print("| variant | simulator's cost of the plan (mean) | ratio to " + ref + " | spread over planner seeds (mean std) "
          "| model's predicted cost (mean) | tasks better than " + ref + " |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in totals:
        J = np.asarray(totals[n])
        better = int((J.mean(1) < np.asarray(totals[ref]).mean(1)).sum())
        print(f"| {n} | {J.mean():.3f} | {J.mean() / ref_mean:.2f} | {J.std(1).mean():.3f} | "
              f"{np.mean(predicted[n]):.3f} | {better}/{len(J)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
