"""``pointwm eval-plan``: closed-loop push tasks in the simulator, four planners on the same
seeds (MPPI + learned model, MPPI + simulator oracle, random shooting + learned model, and
MPPI + zero flow, a control for what the cost's shaping terms do alone); a results table.
The runner is :mod:`pointwm.eval.plan_benchmark`."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from kinematics import load_robot
from planning import PlannerConfig
from pointwm.commands.common import checkpoint_label, warn_if_robot_differs
from pointwm.errors import CLIError
from pointwm.eval.closed_loop import LoopConfig
from pointwm.eval.plan_benchmark import (
    LEARNED,
    PLANNERS,
    Benchmark,
    merge_runs,
    report,
    run_benchmark,
    summarise,
)
from pointwm.model.ensemble import load_models
from pointwm.tasks.push import PushConfig
from pointwm.tasks.reposition import RepositionMove

log = logging.getLogger("pointwm")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-plan",
        help="closed-loop push tasks in simulation: success rate and planning time per planner",
        description="Seeded push tasks (move one object within 3 cm of a target on the table) run in "
        "closed loop in MuJoCo: render RGB-D, plan, execute the first steps, replan. Results are "
        "appended per task to OUT/results.jsonl (an interrupted run resumes, with the same checkpoint and "
        "settings only: OUT/settings.json) and summarised in "
        "OUT/results.md and OUT/results.json.",
    )
    p.add_argument("--checkpoint", type=Path, nargs="+", default=None, metavar="CKPT",
                   help="world-model checkpoint (needed by mppi_model and random); several: plan against "
                        "their ensemble, the mean of their predictions")
    p.add_argument("--tasks", type=int, default=20, help="number of seeded tasks (default: %(default)s)")
    p.add_argument("--first-seed", type=int, default=0, help="seed of the first task (default: %(default)s)")
    p.add_argument("--planners", default=",".join(PLANNERS),
                   help=f"comma-separated subset of {','.join(PLANNERS)} (default: all)")
    p.add_argument("--config", default="closed_loop", help="planner preset (default: %(default)s)")
    p.add_argument("--robot", default="panda", help="robot name (default: %(default)s)")
    p.add_argument("--max-replans", type=int, default=8, help="replans per task (default: %(default)s)")
    p.add_argument("--execute-steps", type=int, default=3, help="steps executed per replan (default: %(default)s)")
    p.add_argument("--crop", type=float, default=0.15, metavar="M",
                   help="half size (m) of the xy box around object and target that the planners see, "
                        "beyond half their distance (default: %(default)s)")
    p.add_argument("--near-radius", type=float, default=None, metavar="M",
                   help="within M metres of the target, execute only --near-execute-steps steps per "
                        "replan (finer feedback for the last few cm; default: off)")
    p.add_argument("--near-execute-steps", type=int, default=1, metavar="N",
                   help="steps executed per replan within --near-radius (default: %(default)s)")
    p.add_argument("--subgoal", type=float, default=None, metavar="M",
                   help="ask each plan to move the object at most M metres towards the target (a "
                        "receding-horizon subgoal; default: the whole way)")
    p.add_argument("--start-angle", type=float, default=0.0, metavar="DEG",
                   help="where the tool starts around the object, degrees from behind it: 0 lined up "
                   "behind it facing the target (default), 90 beside it, so a push must first go round")
    p.add_argument("--settle-steps", type=int, default=0, metavar="N",
                   help="plan steps the robot holds still after each execution before the scene is "
                   "captured again, so planners see it at rest (default: %(default)s, capture at once)")
    p.add_argument("--goal-match", choices=("points", "centroid"), default="points",
                   help="what each plan's goal asks of the object's visible points: 'points', every point "
                   "moved the way to the target (turning costs too; default); 'centroid', only their centroid")
    p.add_argument("--reposition", action="store_true",
                   help="in a round where the tool is not behind the object (along the way to the target), "
                   "move it round the object to its back on an inverse-kinematics path from the capture instead "
                   "of planning, for every planner alike (a push primitive's repositioning move; the round "
                   "counts as a replan)")
    p.add_argument("--reposition-clearance", type=float, default=0.04, metavar="M",
                   help="how far (m) outside the object's footprint --reposition goes round (default: %(default)s)")
    p.add_argument("--reposition-over", action="store_true",
                   help="with --reposition: where no way round keeps the hand clear of the object (a tall "
                   "object, or the hand above its edge after a push), go over it (up, across, down behind "
                   "it) instead of planning that round")
    p.add_argument("--out", type=Path, default=Path("eval_plan"), help="output directory (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes running tasks side by side, each with --threads threads "
                   "(default: %(default)s); results do not depend on it, planning times do")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--summarise", type=Path, nargs="+", default=None, metavar="DIR",
                   help="run nothing: print one table from the results of several earlier runs (their "
                   "--out folders, e.g. blocks of seeds), which must share their settings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.summarise:
        rows, settings = merge_runs(args.summarise)
        seeds = sorted({r["seed"] for r in rows})
        table, _ = summarise(rows, settings)
        span = f"seeds {seeds[0]}-{seeds[-1]}" if seeds else "no seeds"
        print(f"{len(args.summarise)} runs, {len(rows)} results, {span}\n")
        print(table)
        return 0

    planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    bad = [p for p in planners if p not in PLANNERS]
    if bad:
        raise CLIError(f"--planners: unknown {bad} (expected some of {list(PLANNERS)})")
    if args.tasks < 1:
        raise CLIError(f"--tasks: expected >= 1, got {args.tasks}")
    if args.workers < 1 or args.threads < 1:
        raise CLIError(f"--workers and --threads: expected >= 1, got {args.workers} and {args.threads}")
    if args.reposition_over and not args.reposition:
        raise CLIError("--reposition-over goes with --reposition")
    model = None
    if any(p in LEARNED for p in planners):
        if args.checkpoint is None:
            raise CLIError(f"--checkpoint is required for the planners {', '.join(LEARNED)}")
        model = load_models(args.checkpoint)  # fails here, once, on a bad checkpoint
        warn_if_robot_differs(model, load_robot(args.robot))
    checkpoint = args.checkpoint if model is not None else None
    bench = Benchmark(
        planner=PlannerConfig.from_yaml(args.config),
        task=PushConfig(robot=args.robot, crop=args.crop, subgoal=args.subgoal, start_angle=args.start_angle,
                        goal_match=args.goal_match),
        loop=LoopConfig(execute_steps=args.execute_steps, max_replans=args.max_replans, settle_steps=args.settle_steps,
                        near_radius=args.near_radius, near_execute_steps=args.near_execute_steps),
        move=RepositionMove(args.reposition_clearance, args.reposition_over) if args.reposition else None,
    )
    seeds = range(args.first_seed, args.first_seed + args.tasks)
    t0 = time.perf_counter()
    rows = run_benchmark(args.out, bench, seeds, planners, checkpoint, model, workers=args.workers,
                         threads=args.threads, progress=not args.no_progress)
    settings = bench.settings(None)
    meta = {"tasks": args.tasks, "first_seed": args.first_seed,
            "checkpoint": checkpoint_label(args.checkpoint) if args.checkpoint else "None",
            **{k: settings[k] for k in ("planner_config", "task", "loop", "move", "robot")},
            "rollouts_per_replan": bench.planner.K * bench.planner.iterations,
            "wall_s_this_run": round(time.perf_counter() - t0, 1)}
    table = report(args.out, rows, meta)
    print(table)
    print(f"results: {args.out / 'results.md'}, {args.out / 'results.json'}")
    return 0
