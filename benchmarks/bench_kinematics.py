"""Benchmark: batched FK + robot surface points against per-configuration loops.

K x (T+1) = 1024 x 11 Panda configurations (the planner's batch), M = 500 surface points.
Compares, in one run, median wall times of:

- pointwm: ``RobotModel.point_flow`` (FK and all 500 points, every configuration), float32
  and float64, as a contiguous (K, T+1, M, 3) tensor and as the strided view
  (``contiguous=False``, no transposing copy); and ``link_poses`` alone (FK only);
- Pinocchio: a Python loop of ``framesForwardKinematics`` over the same configurations
  (FK only, no points);
- yourdfpy: a Python loop of ``URDF.update_cfg`` (FK only). It is slow, so by default it is
  timed on the first ``--yourdfpy-configs`` configurations and scaled linearly to the full
  count (said so in the output).

Pinocchio and yourdfpy run on one core; torch uses ``--threads`` (default 1, the fair
comparison; 0 keeps torch's default). Every result is allocated fresh, as a caller would
get it; on VMs where first-touching memory is slow, the 67 MB float32 output alone costs
tens of milliseconds.

Run: ``.venv/bin/python benchmarks/bench_kinematics.py [--robot panda] [--repeats 7] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from kinematics import load_robot


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robot", default="panda")
    ap.add_argument("--K", type=int, default=1024, help="planner samples")
    ap.add_argument("--T", type=int, default=10, help="prediction steps (T+1 configurations each)")
    ap.add_argument("--num-points", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--yourdfpy-configs", type=int, default=1024,
                    help="configurations timed for yourdfpy (0 = all)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    robot = load_robot(args.robot, num_points=args.num_points)
    K, T1, J = args.K, args.T + 1, robot.num_joints
    g = torch.Generator().manual_seed(0)
    q = robot.lower + (robot.upper - robot.lower) * torch.rand(K, T1, J, generator=g, dtype=torch.float64)
    n = K * T1
    print(f"robot {robot.name}: J={J} L={robot.num_links} M={robot.num_points}; "
          f"{K} x {T1} = {n} configurations; torch {torch.__version__}, {torch.get_num_threads()} threads")

    results = {}
    with torch.no_grad():
        for dtype in (torch.float32, torch.float64):
            qd = q.to(dtype)
            name = str(dtype)[6:]
            results[f"pointwm point_flow {name}"] = median_time(lambda qd=qd: robot.point_flow(qd), args.repeats)
            results[f"pointwm point_flow {name}, contiguous=False"] = median_time(
                lambda qd=qd: robot.point_flow(qd, contiguous=False), args.repeats)
            results[f"pointwm link_poses {name} (FK only, all {robot.num_links} links)"] = median_time(
                lambda qd=qd: robot.link_poses(qd), args.repeats)

    import pinocchio as pin

    pm = pin.buildModelFromUrdf(str(robot.urdf_path))
    data = pm.createData()
    # Map our action vector to Pinocchio's configuration (mimic joints are separate there).
    desc = robot.description
    by_name = {j.name: j for j in desc.joints}
    q_flat = q.reshape(n, J).numpy()
    q_pin = np.zeros((n, pm.nq))
    for jid in range(1, pm.njoints):
        j = by_name[pm.names[jid]]
        src = j.mimic or j.name
        mult, off = (j.multiplier, j.offset) if j.mimic else (1.0, 0.0)
        q_pin[:, pm.joints[jid].idx_q] = mult * q_flat[:, robot.joint_index(src)] + off

    def pin_loop():
        for k in range(n):
            pin.framesForwardKinematics(pm, data, q_pin[k])

    results["pinocchio loop (FK only)"] = median_time(pin_loop, args.repeats)

    import yourdfpy

    urdf = yourdfpy.URDF.load(str(robot.urdf_path), build_scene_graph=True, load_meshes=False)
    names = list(robot.joint_names)
    m = n if args.yourdfpy_configs <= 0 else min(n, args.yourdfpy_configs)

    def ydf_loop():
        for k in range(m):
            urdf.update_cfg(dict(zip(names, q_flat[k], strict=True)))

    t_ydf = median_time(ydf_loop, max(1, min(args.repeats, 3))) * n / m
    label = "yourdfpy update_cfg loop (FK only)" + ("" if m == n else f" [timed on {m}, scaled x{n / m:.0f}]")
    results[label] = t_ydf

    ours = results["pointwm point_flow float32"]
    print(f"\n{'method':<60} {'median s':>10} {'us/config':>10} {'vs pointwm f32':>15}")
    for name, t in results.items():
        print(f"{name:<60} {t:>10.4f} {1e6 * t / n:>10.2f} {t / ours:>14.1f}x")
    pin_t = results["pinocchio loop (FK only)"]
    print("\nPinocchio loop (FK only) time / pointwm time (> 1: pointwm is faster):")
    for name, t in results.items():
        if name.startswith("pointwm"):
            print(f"  {name:<58} {pin_t / t:6.2f}")
    print(f"yourdfpy loop / pointwm point_flow float32: {t_ydf / ours:.0f}")


if __name__ == "__main__":
    main()
