"""Training speed of the ``tiny`` model on this CPU: compute, data loading, and data wait.

Three figures on clips of an archive (``pointwm generate``), with the run's augmentation
and point cap from ``configs/train/tiny_sim.yaml``:

1. data loading: clips/s of the per-rank sample stream (read shard + forward kinematics for
   the robot points + augmentation), in this process;
2. training compute: clips/s of forward + backward + AdamW on batches already in memory;
3. end to end: clips/s of ``pointwm.train.train`` and the fraction of step time spent
   waiting for data, with ``--workers`` DataLoader workers.

    .venv/bin/python benchmarks/bench_train.py --data /work/data/sim-train [--steps 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from pointwm.data import read_manifest
from pointwm.geometry import PointCloud
from pointwm.model import RobotInput, WorldModel, flow_loss
from pointwm.paths import CONFIGS
from pointwm.train import SampleStream, load_train_config, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="archive folder")
    parser.add_argument("--config", type=Path, default=CONFIGS / "train" / "tiny_sim.yaml")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers end to end (default: %(default)s)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_train_config(args.config)
    cfg = replace(cfg, threads=args.threads, num_workers=args.workers, batch_size=args.batch_size or cfg.batch_size)
    b = cfg.batch_size
    print(f"config {args.config.name}: model {cfg.model.name}, batch {b}, <= {cfg.augment.max_points} points, "
          f"{args.threads} thread(s), {torch.get_num_threads()} torch threads")

    # 1. data loading
    stream = SampleStream([read_manifest(args.data)], augment_cfg=cfg.augment, seed=cfg.seed,
                          num_robot_points=cfg.num_robot_points)
    it = iter(stream)
    next(it)  # warm-up: robot model load
    n_data = args.steps * b
    t0 = time.perf_counter()
    samples = [s for _, s in itertools.islice(it, n_data) if s is not None]
    dt = time.perf_counter() - t0
    pts = statistics.mean(s.points.shape[1] for s in samples)
    print(f"data loading:      {n_data / dt:7.2f} clips/s  ({1000 * dt / n_data:.0f} ms/clip, {pts:.0f} points/clip)")

    # 2. training compute on in-memory batches
    torch.manual_seed(0)
    model = WorldModel(cfg.model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    batches = [samples[i : i + b] for i in range(0, len(samples) - b + 1, b)]

    def step(batch) -> None:
        scenes = [PointCloud(s.points[0], color=s.colors, normals=s.normals) for s in batch]
        robots = [RobotInput(s.robot_points, gripper=s.gripper) for s in batch]
        out = model(scenes, robots)
        target = torch.cat([s.flow for s in batch], 1)
        loss = flow_loss(out.flow.transpose(0, 1), None, target, model.flow_std, fixed_log_var=0.0,
                         mask=torch.cat([s.valid[1:] for s in batch], 1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(batches[0])  # warm-up
    times = []
    for batch in batches:
        t0 = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"training compute:  {b / med:7.2f} clips/s  ({1000 * med:.0f} ms/step of {b} clips, median)")

    # 3. end to end through train(): throughput and data wait from its metrics.csv
    with tempfile.TemporaryDirectory() as tmp:
        run_cfg = replace(cfg, steps=args.steps + 2, log_every=args.steps + 2, checkpoint_every=10**6,
                          norm_clips=8)
        res = train(run_cfg, args.data, Path(tmp) / "run", progress=False)
        with open(Path(tmp) / "run" / "metrics.csv") as f:
            row = list(csv.DictReader(f))[-1]
    print(f"end to end:        {float(row['clips_per_s']):7.2f} clips/s  "
          f"(workers {args.workers}; {100 * float(row['data_wait']):.1f} % of step time waiting for data; "
          f"{res.seconds:.1f} s incl. start-up)")


if __name__ == "__main__":
    main()
