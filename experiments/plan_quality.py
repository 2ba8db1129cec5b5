"""Plan quality judged by the simulator (``pointwm.eval.judge``): from push task states, each
planner variant plans against the learned model with several planner seeds, and the
simulator scores the plan it returns. Prints one line per task and a table (docs/results.md,
"Plan quality").

    .venv/bin/python experiments/plan_quality.py --seeds 2 5 7 9 13 20 --planner-seeds 4
    .venv/bin/python experiments/plan_quality.py --seeds 2 4 6 12 16 18 20 28 30 32 --rounds 3   # later states
    .venv/bin/python experiments/plan_quality.py --seeds 2 5 --variants rs=random:closed_loop_progress \\
        mppi_mean=mppi:closed_loop_progress:output=mean --out runs/plan_quality.jsonl

``--rounds N`` first drives each task N rounds of eval-plan's loop (``closed_loop_progress``,
``--reposition``) with the learned model and judges from there. A variant is
``NAME=PLANNER:PRESET[:KEY=VALUE,...]``; the first is the reference of the ratios. One
process, one thread; one JSON line per task is appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from kinematics import load_robot
from pointwm.eval.judge import judge_task, parse_variant, summary_table
from pointwm.model.ensemble import load_models

DEFAULT_VARIANTS = (
    "random=random:closed_loop_progress",
    "mppi_32x2=mppi:closed_loop_progress",
    "mppi_16x4=mppi:closed_loop_refine",
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, nargs="+", default=[Path("assets/checkpoints/tiny_sim.safetensors")])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2, 5, 7, 9, 13, 20], help="task seeds (eval-plan's)")
    ap.add_argument("--planner-seeds", type=int, default=4, help="planner seeds per task and variant (default: %(default)s)")
    ap.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), metavar="NAME=PLANNER:PRESET[:K=V,...]")
    ap.add_argument("--rounds", type=int, default=0,
                    help="judge after this many rounds of the closed loop with the learned model (default: start state)")
    ap.add_argument("--out", type=Path, default=None, help="append one JSON line per task")
    args = ap.parse_args()
    if args.rounds < 0 or args.planner_seeds < 1:
        ap.error("--rounds: expected >= 0; --planner-seeds: expected >= 1")
    try:
        variants = [parse_variant(v) for v in args.variants]
    except (ValueError, FileNotFoundError) as e:
        ap.error(str(e))
    budgets = {v.name: v.config.K * v.config.iterations for v in variants}
    if len(set(budgets.values())) > 1:
        print(f"warning: the variants' sample budgets differ: {budgets}", file=sys.stderr)
    torch.set_num_threads(1)
    robot, model = load_robot("panda"), load_models(args.checkpoint)
    results = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        r = judge_task(seed, variants, model, robot, args.planner_seeds, args.rounds)
        if r["skipped"]:
            print(f"seed {seed}: {r['skipped']}; skipped", flush=True)
            continue
        results.append(r)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(r) + "\n")
        line = ", ".join(f"{n} {np.mean(v['judged']):.3f}" for n, v in r["variants"].items())
        print(f"seed {seed} (simulator's cost of the plan, mean over planner seeds): {line}; "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    if not results:
        print("no task left to judge")
        return 0
    where = "start states" if args.rounds == 0 else f"states after {args.rounds} rounds"
    print(f"\n{len(results)} task {where} x {args.planner_seeds} planner seeds; lower is better\n")
    print(summary_table(results, variants[0].name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
