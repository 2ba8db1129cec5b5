"""The closed-loop planning benchmark behind ``pointwm eval-plan``: several planners on the
same seeded push tasks, run in a worker pool, resumable, summarised with paired sign tests.

Planners (:data:`PLANNERS`): MPPI with the learned world model, MPPI with the simulator as
its dynamics (the oracle), random shooting with the learned model (the same rollouts as
MPPI, no update) and MPPI with a model that predicts no motion (what the cost's shaping
terms achieve without any prediction). Every planner gets the push task's cost terms.

A run folder holds ``results.jsonl`` (one row per (seed, planner), appended as runs finish),
``settings.json`` (what made them: a rerun with other settings is refused, so results are
never mixed), ``results.md`` and ``results.json`` (the summary).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from math import comb
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from kinematics import load_robot
from planning import GENERIC_TERMS, MPPIPlanner, PlannerConfig, RandomShootingPlanner, zero_dynamics
from pointwm.atomic import write_json
from pointwm.errors import ConfigError
from pointwm.eval.closed_loop import DynamicsFor, LoopConfig, run_task
from pointwm.model.ensemble import load_models
from pointwm.sim import SimDynamics
from pointwm.tasks.push import COST_TERMS, PushConfig, PushEnv, make_task
from pointwm.tasks.reposition import RepositionMove

__all__ = ["LABELS", "LEARNED", "PLANNERS", "Benchmark", "check_settings", "checkpoint_sha256", "make_planner",
           "merge_runs", "paired", "planner_dynamics", "report", "run_benchmark", "sign_test_p", "summarise"]

log = logging.getLogger(__name__)

PLANNERS = ("mppi_model", "mppi_oracle", "random", "mppi_zero")
LEARNED = ("mppi_model", "random")  # the planners that need a world model
LABELS = {"mppi_model": "MPPI + learned model", "mppi_oracle": "MPPI + simulator (oracle)",
          "random": "random shooting + learned model", "mppi_zero": "MPPI + zero flow (no prediction)"}


@dataclass(frozen=True)
class Benchmark:
    """What one benchmark run compares: the planner preset, the task family, the loop, the
    optional scripted move and the robot (by name). Stored as the run's ``settings.json``
    with the checkpoint's hash (:meth:`settings`)."""

    planner: PlannerConfig
    task: PushConfig
    loop: LoopConfig
    move: RepositionMove | None = None

    def settings(self, checkpoint_sha256) -> dict:
        """JSON-able settings of the run, as stored and compared on resume."""
        return _normalise({"checkpoint_sha256": checkpoint_sha256, "planner_config": self.planner.to_dict(),
                           "task": asdict(self.task), "loop": asdict(self.loop),
                           "move": None if self.move is None else asdict(self.move), "robot": self.task.robot})


def make_planner(name: str, config: PlannerConfig):
    """Planner ``name`` of :data:`PLANNERS` with the push task's cost terms."""
    cls = RandomShootingPlanner if name == "random" else MPPIPlanner
    return cls(config, cost_terms=COST_TERMS)


def planner_dynamics(name: str, model=None) -> DynamicsFor:
    """What planner ``name`` plans with each round: the learned ``model``, the null model or
    the simulator from the round's state (the oracle)."""
    if name == "mppi_oracle":
        return lambda env, seg: SimDynamics(env.world, seg)
    if name == "mppi_zero":
        return lambda env, seg: zero_dynamics
    if name not in LEARNED:
        raise ConfigError(f"unknown planner {name!r} (expected one of {list(PLANNERS)})")
    if model is None:
        raise ConfigError(f"planner {name!r} needs a world model")
    return lambda env, seg: model


# ------------------------------------------------------------------ settings and resume
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_sha256(paths: list[Path] | None) -> str | list[str] | None:
    """One checkpoint's hash (as runs from before ensembles recorded it), or the list."""
    if paths is None:
        return None
    hashes = [_sha256(p) for p in paths]
    return hashes[0] if len(hashes) == 1 else hashes


_TASK_KEYS = [f.name for f in fields(PushConfig)]
_LOOP_KEYS = [f.name for f in fields(LoopConfig)]


def _normalise(settings: dict) -> dict:
    """Stored settings in today's form: runs from before a setting existed ran at its default.

    Older runs stored one flat ``eval_config`` (task, loop and move together: it is split) and
    every planner cost weight, 0 included (weights of 0 for terms that are not the planner's
    own count as absent)."""
    s = json.loads(json.dumps(settings))  # a copy; tuples -> lists, as stored
    if isinstance(s.get("eval_config"), dict):
        flat = s.pop("eval_config")
        s["task"] = {k: flat[k] for k in _TASK_KEYS if k in flat}
        s["loop"] = {k: flat[k] for k in _LOOP_KEYS if k in flat}
        s["move"] = ({"clearance": flat.get("reposition_clearance", RepositionMove.clearance),
                      "over": flat.get("reposition_over", False)} if flat.get("reposition") else None)
    if isinstance(s.get("task"), dict):
        s["task"] = {**json.loads(json.dumps(asdict(PushConfig()))), **s["task"]}
    if isinstance(s.get("loop"), dict):
        s["loop"] = {**asdict(LoopConfig()), **s["loop"]}
    w = (s.get("planner_config") or {}).get("weights")
    if isinstance(w, dict):
        s["planner_config"]["weights"] = {k: v for k, v in w.items() if v != 0 or k in GENERIC_TERMS}
    return s


def check_settings(out: Path, rows: list, settings: dict) -> None:
    """Resume only what the same settings made: ``OUT/settings.json`` records them; results
    from another checkpoint, planner preset, task, loop or move setting are never mixed in."""
    settings = _normalise(settings)
    path = out / "settings.json"
    if rows and path.exists():
        old = _normalise(json.loads(path.read_text()))
        if old != settings:
            diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            raise ConfigError(
                f"--out {out}: results.jsonl holds runs made with other settings (differ: {', '.join(diff)}); "
                f"use another --out, or delete {out / 'results.jsonl'} to start over"
            )
    write_json(path, settings)


# ------------------------------------------------------------------ worker processes
_WORKER: dict = {}


def _init_worker(checkpoint, robot_name: str, bench: Benchmark, threads: int, model=None) -> None:
    """Per process: load the robot and the model once (``workers`` > 1, or in-process,
    where ``model`` may be given already loaded)."""
    torch.set_num_threads(max(1, threads))
    if model is None and checkpoint is not None:
        model = load_models(checkpoint)
    _WORKER.clear()
    _WORKER.update(robot=load_robot(robot_name), model=model, bench=bench, tasks={})


def _run_job(job: tuple[int, str]) -> dict:
    """One (seed, planner) run in this process -> its result row."""
    seed, name = job
    w = _WORKER
    bench: Benchmark = w["bench"]
    T, dt = bench.planner.T, bench.planner.dt
    if seed not in w["tasks"]:
        w["tasks"][seed] = make_task(seed, bench.task, w["robot"], T, dt)
    env = PushEnv(w["tasks"][seed], w["robot"], bench.task, T, dt)
    r = run_task(env, make_planner(name, bench.planner), planner_dynamics(name, w["model"]), bench.loop,
                 bench.move, name)
    return asdict(r)


def run_benchmark(out: Path, bench: Benchmark, seeds: Iterable[int], planners: list[str],
                  checkpoint: list[Path] | None = None, model=None, workers: int = 1, threads: int = 1,
                  progress: bool = True, on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """Run every (seed, planner) not yet in ``out/results.jsonl`` and return all rows of
    these seeds and planners. ``checkpoint``: the world model's files (for the learned
    planners; ``model``: already loaded from them, for the in-process run). ``workers``
    processes (spawned) run tasks side by side with ``threads`` torch threads each: the
    outcomes do not depend on it, the planning times do."""
    bad = [p for p in planners if p not in PLANNERS]
    if bad:
        raise ConfigError(f"planners: unknown {bad} (expected some of {list(PLANNERS)})")
    if any(p in LEARNED for p in planners) and checkpoint is None:
        raise ConfigError(f"a world-model checkpoint is required for the planners {list(LEARNED)}")
    seeds = list(seeds)
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / "results.jsonl"
    rows = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()] if jsonl.exists() else []
    check_settings(out, rows, bench.settings(checkpoint_sha256(checkpoint)))
    done = {(r["seed"], r["planner"]) for r in rows}
    todo = [(s, p) for s in seeds for p in planners if (s, p) not in done]
    total = len(seeds) * len(planners)
    if len(todo) < total:
        log.info("resuming: %d of %d runs already in %s", total - len(todo), total, jsonl)
    init = (checkpoint, bench.task.robot, bench, threads)
    workers = min(workers, max(1, len(todo)))
    with tqdm(total=len(todo), desc="eval-plan", unit="run", disable=not progress) as bar:
        pool = None
        if workers == 1:
            _init_worker(*init, model=model)
            results = map(_run_job, todo)
        else:  # spawn: no inherited MuJoCo/EGL or torch thread state
            pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=init)
            results = pool.imap_unordered(_run_job, todo)  # by seed, so a worker reuses its task
        try:
            for row in results:
                with open(jsonl, "a") as f:
                    f.write(json.dumps(row) + "\n")
                rows.append(row)
                bar.update(1)
                bar.set_postfix(seed=row["seed"], planner=row["planner"], ok=row["success"])
                if on_row is not None:
                    on_row(row)
        finally:
            if pool is not None:
                pool.terminate()
    wanted = set(seeds)
    return [r for r in rows if r["seed"] in wanted and r["planner"] in planners]


# ------------------------------------------------------------------ summary
def sign_test_p(a: int, b: int) -> float:
    """Two-sided exact sign test: the chance of a split at least as uneven as a : b among
    a + b discordant tasks when each goes either way with probability 1/2."""
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
    """The result rows of several benchmark runs and their shared settings. The planner
    preset, task, loop, move and robot must agree; the checkpoint must agree among runs with
    learned-model rows (a zero-flow or oracle run needs none). A (seed, planner) found twice
    must have the same outcome."""
    rows: dict[tuple[int, str], dict] = {}
    first: tuple[Path, dict] | None = None
    ckpt: tuple[Path, object] | None = None
    for d in dirs:
        jsonl, spath = d / "results.jsonl", d / "settings.json"
        if not jsonl.is_file() or not spath.is_file():
            raise ConfigError(f"--summarise {d}: expected an eval-plan --out folder with results.jsonl and settings.json")
        settings = _normalise(json.loads(spath.read_text()))
        here = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()]
        shared = {k: v for k, v in settings.items() if k != "checkpoint_sha256"}
        if first is None:
            first = (d, shared)
        elif shared != first[1]:
            diff = sorted(k for k in set(shared) | set(first[1]) if shared.get(k) != first[1].get(k))
            raise ConfigError(f"--summarise: {d} and {first[0]} were run with other settings (differ: {', '.join(diff)})")
        if any(r["planner"] in LEARNED for r in here):
            if ckpt is None:
                ckpt = (d, settings.get("checkpoint_sha256"))
            elif settings.get("checkpoint_sha256") != ckpt[1]:
                raise ConfigError(f"--summarise: {d} and {ckpt[0]} ran the learned model from other checkpoints")
        for r in here:
            key = (r["seed"], r["planner"])
            if key in rows and rows[key]["success"] != r["success"]:
                raise ConfigError(f"--summarise: seed {key[0]} of {key[1]} has two different outcomes (one in {d})")
            rows.setdefault(key, r)
    return list(rows.values()), (first[1] if first else {})


def report(out: Path, rows: list[dict], meta: dict) -> str:
    """Write ``out/results.md`` and ``out/results.json`` for ``rows``; return the table."""
    table, summary = summarise(rows, meta)
    (out / "results.md").write_text(table)
    write_json(out / "results.json", summary)
    return table

