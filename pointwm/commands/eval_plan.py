"""``pointwm eval-plan``: closed-loop push tasks in the simulator, four planners on the same
seeds (MPPI + learned model, MPPI + simulator oracle, random shooting + learned model, and
MPPI + zero flow, a control for what the cost's shaping terms do alone); a results table."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

log = logging.getLogger("pointwm")

PLANNERS = ("mppi_model", "mppi_oracle", "random", "mppi_zero")
LABELS = {"mppi_model": "MPPI + learned model", "mppi_oracle": "MPPI + simulator (oracle)",
          "random": "random shooting + learned model", "mppi_zero": "MPPI + zero flow (no prediction)"}


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checkpoint_sha256(paths: list[Path] | None) -> str | list[str] | None:
    """One checkpoint's hash (as runs from before ensembles recorded it), or the list."""
    if paths is None:
        return None
    hashes = [_sha256(p) for p in paths]
    return hashes[0] if len(hashes) == 1 else hashes


def _with_defaults(settings: dict) -> dict:
    """Stored settings with any loop setting added since at its default: runs from before
    it existed ran at the default."""
    if isinstance(settings.get("eval_config"), dict):
        from dataclasses import asdict

        from pointwm.eval.closed_loop import EvalConfig

        settings["eval_config"] = {**json.loads(json.dumps(asdict(EvalConfig()))), **settings["eval_config"]}
    return settings


def _check_settings(out: Path, rows: list, settings: dict) -> None:
    """Resume only what the same settings made: OUT/settings.json records them; results
    from another checkpoint, planner preset or loop setting are never mixed in."""
    from pointwm.atomic import write_json

    settings = json.loads(json.dumps(settings))  # tuples -> lists, as stored
    path = out / "settings.json"
    if rows and path.exists():
        old = _with_defaults(json.loads(path.read_text()))
        if old != settings:
            diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            raise ValueError(
                f"--out {out}: results.jsonl holds runs made with other settings (differ: {', '.join(diff)}); "
                f"use another --out, or delete {out / 'results.jsonl'} to start over"
            )
    write_json(path, settings)


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


# ------------------------------------------------------------------ worker processes

_WORKER: dict = {}


def _init_worker(checkpoint, robot_name: str, pcfg, ecfg, threads: int, model=None) -> None:
    """Per process: load the robot and the model once (``--workers`` > 1, or in-process,
    where ``model`` may be given already loaded)."""
    import os

    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch

    from kinematics import load_robot

    torch.set_num_threads(max(1, threads))
    if model is None and checkpoint is not None:
        from pointwm.model.ensemble import load_models

        model = load_models(checkpoint)
    _WORKER.clear()
    _WORKER.update(robot=load_robot(robot_name), model=model, pcfg=pcfg, ecfg=ecfg, tasks={})


def _run_job(job: tuple[int, str]) -> dict:
    """One (seed, planner) run in this process → its result row."""
    from dataclasses import asdict

    from pointwm.eval.closed_loop import make_task, run_task

    seed, name = job
    w = _WORKER
    if seed not in w["tasks"]:
        w["tasks"][seed] = make_task(seed, w["ecfg"], w["robot"], w["pcfg"].T, w["pcfg"].dt)
    r = run_task(w["tasks"][seed], name, w["robot"], w["pcfg"], w["ecfg"], world_model=w["model"])
    return asdict(r)


def sign_test_p(a: int, b: int) -> float:
    """Two-sided exact sign test: the chance of a split at least as uneven as a : b among
    a + b discordant tasks when each goes either way with probability 1/2."""
    from math import comb

    n, k = a + b, max(a, b)
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * sum(comb(n, i) for i in range(k, n + 1)) / 2.0**n)


def paired(rows: list[dict], first: str, second: str) -> dict | None:
    """Two planners on the seeds both ran: tasks solved by the first only and by the second
    only, and the sign test's p on that split; None where they share no seed."""
    a = {r["seed"]: r["success"] for r in rows if r["planner"] == first}
    b = {r["seed"]: r["success"] for r in rows if r["planner"] == second}
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    only_a = sum(a[s] and not b[s] for s in seeds)
    only_b = sum(b[s] and not a[s] for s in seeds)
    return {"first": first, "second": second, "tasks": len(seeds), "first_only": only_a,
            "second_only": only_b, "sign_test_p": sign_test_p(only_a, only_b)}


def summarise(rows: list[dict], meta: dict) -> tuple[str, dict]:
    """Markdown table + JSON summary from per-task result rows: per planner, and the learned
    model's MPPI paired with each other planner on the seeds both ran."""
    import numpy as np

    summary = {"meta": meta, "planners": {}}
    oracle = {r["seed"]: r["success"] for r in rows if r["planner"] == "mppi_oracle"}
    lines = ["| planner | tasks | success rate | of the oracle's successes | planning time per replan (s, mean ± std) "
             "| replans + moves per task | final error (cm, median) |",
             "|---|---|---|---|---|---|---|"]
    for name in PLANNERS:
        rs = [r for r in rows if r["planner"] == name]
        if not rs:
            continue
        times = np.array([t for r in rs for t in r["plan_times_s"]] or [float("nan")])
        succ = sum(r["success"] for r in rs)
        both = [r for r in rs if r["seed"] in oracle]
        n_oracle = sum(oracle[r["seed"]] for r in both)
        ratio = sum(r["success"] for r in both) / n_oracle if n_oracle else None
        s = {"tasks": len(rs), "successes": succ, "success_rate": succ / len(rs),
             "of_oracle": ratio,
             "plan_time_mean_s": float(times.mean()), "plan_time_std_s": float(times.std()),
             "replans_mean": float(np.mean([r["replans"] for r in rs])),
             "moves_mean": float(np.mean([r.get("repositions", 0) for r in rs])),
             "final_error_median_cm": float(100 * np.median([r["final_error_m"] for r in rs]))}
        summary["planners"][name] = s
        of = "-" if ratio is None else f"{100 * ratio:.0f} %"
        lines.append(f"| {LABELS[name]} | {len(rs)} | {succ}/{len(rs)} = {100 * s['success_rate']:.0f} % | {of} | "
                     f"{s['plan_time_mean_s']:.2f} ± {s['plan_time_std_s']:.2f} | "
                     f"{s['replans_mean']:.1f} + {s['moves_mean']:.1f} | {s['final_error_median_cm']:.1f} |")
    pairs = [pr for other in ("random", "mppi_zero", "mppi_oracle")
             if (pr := paired(rows, "mppi_model", other)) is not None]
    summary["paired"] = pairs
    if pairs:
        lines += ["", "The learned model's MPPI against each other planner, task by task:", ""]
    for pr in pairs:
        other = LABELS[pr["second"]]
        lines.append(f"- against {other}, on the same {pr['tasks']} seeds: solved by MPPI + learned model only "
                     f"{pr['first_only']}, by {other} only {pr['second_only']} (two-sided sign test "
                     f"p = {pr['sign_test_p']:.3g})")
    return "\n".join(lines) + "\n", summary


def merge_runs(dirs: list[Path]) -> tuple[list[dict], dict]:
    """The result rows of several eval-plan runs and their shared settings. The planner
    preset, loop settings and robot must agree; the checkpoint must agree among runs with
    learned-model rows (a zero-flow or oracle run needs none). A (seed, planner) found twice
    must have the same outcome."""
    rows: dict[tuple[int, str], dict] = {}
    first: tuple[Path, dict] | None = None
    ckpt: tuple[Path, object] | None = None
    for d in dirs:
        jsonl, spath = d / "results.jsonl", d / "settings.json"
        if not jsonl.is_file() or not spath.is_file():
            raise ValueError(f"--summarise {d}: expected an eval-plan --out folder with results.jsonl and settings.json")
        settings = _with_defaults(json.loads(spath.read_text()))
        here = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()]
        shared = {k: v for k, v in settings.items() if k != "checkpoint_sha256"}
        if first is None:
            first = (d, shared)
        elif shared != first[1]:
            diff = sorted(k for k in set(shared) | set(first[1]) if shared.get(k) != first[1].get(k))
            raise ValueError(f"--summarise: {d} and {first[0]} were run with other settings (differ: {', '.join(diff)})")
        if any(r["planner"] in ("mppi_model", "random") for r in here):
            if ckpt is None:
                ckpt = (d, settings.get("checkpoint_sha256"))
            elif settings.get("checkpoint_sha256") != ckpt[1]:
                raise ValueError(f"--summarise: {d} and {ckpt[0]} ran the learned model from other checkpoints")
        for r in here:
            key = (r["seed"], r["planner"])
            if key in rows and rows[key]["success"] != r["success"]:
                raise ValueError(f"--summarise: seed {key[0]} of {key[1]} has two different outcomes (one in {d})")
            rows.setdefault(key, r)
    return list(rows.values()), (first[1] if first else {})


def run(args: argparse.Namespace) -> int:
    import os
    from dataclasses import asdict

    if args.summarise:
        rows, settings = merge_runs(args.summarise)
        seeds = sorted({r["seed"] for r in rows})
        table, _ = summarise(rows, settings)
        span = f"seeds {seeds[0]}-{seeds[-1]}" if seeds else "no seeds"
        print(f"{len(args.summarise)} runs, {len(rows)} results, {span}\n")
        print(table)
        return 0

    os.environ.setdefault("MUJOCO_GL", "egl")
    from tqdm import tqdm

    from planning import PlannerConfig
    from pointwm.commands.common import checkpoint_label, write_json
    from pointwm.eval.closed_loop import EvalConfig

    planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    bad = [p for p in planners if p not in PLANNERS]
    if bad:
        raise ValueError(f"--planners: unknown {bad} (expected some of {list(PLANNERS)})")
    if args.tasks < 1:
        raise ValueError(f"--tasks: expected >= 1, got {args.tasks}")
    if args.workers < 1 or args.threads < 1:
        raise ValueError(f"--workers and --threads: expected >= 1, got {args.workers} and {args.threads}")
    checkpoint = model = None
    if any(p in ("mppi_model", "random") for p in planners):
        if args.checkpoint is None:
            raise ValueError("--checkpoint is required for the planners mppi_model and random")
        from pointwm.model.ensemble import load_models

        model = load_models(args.checkpoint)  # fails here, once, on a bad checkpoint
        from kinematics import load_robot
        from pointwm.commands.common import warn_if_robot_differs

        warn_if_robot_differs(model, load_robot(args.robot))
        checkpoint = args.checkpoint
    pcfg = PlannerConfig.from_yaml(args.config)
    ecfg = EvalConfig(robot=args.robot, execute_steps=args.execute_steps, max_replans=args.max_replans,
                      subgoal=args.subgoal, start_angle=args.start_angle,
                      settle_steps=args.settle_steps, goal_match=args.goal_match,
                      near_radius=args.near_radius, near_execute_steps=args.near_execute_steps,
                      crop=args.crop, reposition=args.reposition, reposition_clearance=args.reposition_clearance,
                      reposition_over=args.reposition_over)
    args.out.mkdir(parents=True, exist_ok=True)
    jsonl = args.out / "results.jsonl"
    rows = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()] if jsonl.exists() else []
    _check_settings(args.out, rows, {
        "checkpoint_sha256": _checkpoint_sha256(args.checkpoint),
        "planner_config": pcfg.to_dict(), "eval_config": asdict(ecfg), "robot": args.robot,
    })
    done = {(r["seed"], r["planner"]) for r in rows}
    seeds = range(args.first_seed, args.first_seed + args.tasks)
    todo = [(s, p) for s in seeds for p in planners if (s, p) not in done]
    if len(todo) < args.tasks * len(planners):
        log.info("resuming: %d of %d runs already in %s", args.tasks * len(planners) - len(todo),
                 args.tasks * len(planners), jsonl)
    t0 = time.perf_counter()
    init = (checkpoint, args.robot, pcfg, ecfg, args.threads)
    workers = min(args.workers, max(1, len(todo)))
    with tqdm(total=len(todo), desc="eval-plan", unit="run", disable=args.no_progress) as bar:
        if workers == 1:
            _init_worker(*init, model=model)
            results = map(_run_job, todo)
            pool = None
        else:  # spawn: no inherited MuJoCo/EGL or torch thread state
            import multiprocessing as mp

            pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=init)
            # by seed, so a worker reuses its task; rows are written as runs finish
            results = pool.imap_unordered(_run_job, todo)
        try:
            for row in results:
                with open(jsonl, "a") as f:
                    f.write(json.dumps(row) + "\n")
                rows.append(row)
                bar.update(1)
                bar.set_postfix(seed=row["seed"], planner=row["planner"], ok=row["success"])
        finally:
            if pool is not None:
                pool.terminate()
    rows = [r for r in rows if r["seed"] in seeds and r["planner"] in planners]
    meta = {"tasks": args.tasks, "first_seed": args.first_seed, "checkpoint": checkpoint_label(args.checkpoint) if args.checkpoint else "None",
            "planner_config": pcfg.to_dict(), "eval_config": asdict(ecfg), "robot": args.robot,
            "rollouts_per_replan": pcfg.K * pcfg.iterations, "wall_s_this_run": round(time.perf_counter() - t0, 1)}
    table, summary = summarise(rows, meta)
    (args.out / "results.md").write_text(table)
    write_json(args.out / "results.json", summary)
    print(table)
    print(f"results: {args.out / 'results.md'}, {args.out / 'results.json'}")
    return 0
