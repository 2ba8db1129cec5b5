"""``pointwm generate``: simulated clips with exact point flows -> a clip archive."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from pointwm.data.sim import SimConfig, generate_archive
from pointwm.data.sim.config import OBJECT_SHAPES


def register(sub: argparse._SubParsersAction) -> None:
    d = SimConfig()
    p = sub.add_parser(
        "generate",
        help="generate simulated training clips (MuJoCo, headless) into an archive",
        description="Simulate table-top scenes (1-4 objects, 1-3 cameras) in which the robot "
        "pushes objects or reaches, and write clips with exact future positions of every t0 "
        "point. Deterministic for a seed; resumable (rerun the same command after an "
        "interruption; a larger --clips extends the archive). Rendering is headless: "
        "MUJOCO_GL defaults to egl.",
    )
    p.add_argument("out", type=Path, help="output archive directory")
    p.add_argument("--clips", type=int, default=1000, help="number of clips (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default: %(default)s)")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                   help="processes (default: CPUs - 1 = %(default)s)")
    p.add_argument("--clips-per-shard", type=int, default=64, help="default: %(default)s")
    p.add_argument("--robot", default=d.robot, help="robot name or YAML (default: %(default)s)")
    p.add_argument("--width", type=int, default=d.width, help="image width, pixels (default: %(default)s)")
    p.add_argument("--height", type=int, default=d.height, help="image height, pixels (default: %(default)s)")
    p.add_argument("--steps", type=int, default=d.num_steps, help="T, steps per clip (default: %(default)s)")
    p.add_argument("--step-dt", type=float, default=d.step_dt, help="seconds per step (default: %(default)s)")
    p.add_argument("--objects", type=int, nargs=2, default=list(d.objects), metavar=("MIN", "MAX"),
                   help="objects per scene (default: %(default)s)")
    p.add_argument("--cameras", type=int, nargs=2, default=list(d.cameras), metavar=("MIN", "MAX"),
                   help="cameras per scene (default: %(default)s)")
    p.add_argument("--push-prob", type=float, default=d.push_prob,
                   help="probability of a push motion, else a random reach (default: %(default)s)")
    p.add_argument("--probe-prob", type=float, default=d.probe_prob,
                   help="fraction of the object motions that are probes (noisy tool paths from beside "
                   "the object, as a sampling planner explores) instead of straight pushes (default: %(default)s)")
    p.add_argument("--retreat-prob", type=float, default=d.retreat_prob,
                   help="fraction of the other object motions that are retreats (the tool starts at the "
                   "object and moves back or aside; a pusher cannot pull, so it stays) instead of "
                   "straight pushes (default: %(default)s)")
    p.add_argument("--shapes", default=",".join(d.shapes),
                   help=f"comma-separated object kinds from {','.join(OBJECT_SHAPES)}; e.g. "
                   "'capsule,ellipsoid' for a held-out-shape test set (default: %(default)s)")
    p.add_argument("--push-gap", type=float, nargs=2, default=list(d.push_gap), metavar=("LO", "HI"),
                   help="metres between tool and object at the start of a straight push; near 0 starts "
                   "in contact, as a closed-loop planner does after its first replan (default: %(default)s)")
    p.add_argument("--push-length", type=float, nargs=2, default=list(d.push_length), metavar=("LO", "HI"),
                   help="metres the tool moves in a straight push (default: %(default)s)")
    p.add_argument("--push-offset", type=float, default=d.push_offset, metavar="M",
                   help="a straight push's line passes up to M metres to the side of the object's centre, "
                   "so pushes turn, deflect, graze or miss it (default: %(default)s, through the centre)")
    p.add_argument("--task-prob", type=float, default=d.task_prob, metavar="P",
                   help="fraction of clips drawn from closed-loop push-task states: an eval-plan task "
                   "(seed >= 10^6, never an evaluation seed) driven 0-3 replans by MPPI with a no-motion "
                   "model, then one of that planner's candidates; the task's simulator and cameras "
                   "(default: %(default)s)")
    p.add_argument("--task-driver", default=d.task_driver, metavar="CKPT",
                   help="world-model checkpoint whose MPPI drives the --task-prob tasks and proposes "
                   "the recorded candidates, so the clips show the learned planner's own states "
                   "(about 5 s a replan for the tiny model on a CPU; default: the no-motion model)")
    p.add_argument("--task-episode", type=int, default=d.task_episode, metavar="E",
                   help="with --task-prob 1: record whole episodes, E clips per task, one at each of its "
                   "first E replans as eval-plan runs it (a snapshot of the simulator per clip, one plan "
                   "per clip; default: %(default)s, one clip per task)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def sim_config(args: argparse.Namespace):
    """The :class:`~pointwm.data.sim.SimConfig` of parsed ``generate`` options."""
    return SimConfig(
        robot=args.robot, width=args.width, height=args.height, num_steps=args.steps,
        step_dt=args.step_dt, objects=tuple(args.objects), cameras=tuple(args.cameras),
        push_prob=args.push_prob, probe_prob=args.probe_prob,
        retreat_prob=args.retreat_prob, shapes=tuple(k.strip() for k in args.shapes.split(",") if k.strip()),
        push_gap=tuple(args.push_gap), push_length=tuple(args.push_length),
        push_offset=args.push_offset, task_prob=args.task_prob, task_driver=args.task_driver,
        task_episode=args.task_episode,
    )


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")

    cfg = sim_config(args)
    t0 = time.perf_counter()
    m = generate_archive(args.out, args.clips, seed=args.seed, cfg=cfg, workers=args.workers,
                         clips_per_shard=args.clips_per_shard, progress=not args.no_progress)
    dt = time.perf_counter() - t0
    print(f"{m.num_clips} clips in {len(m.shards)} shards: {m.root} ({dt:.1f} s)")
    print(f"verify with: pointwm data check {m.root}")
    return 0
