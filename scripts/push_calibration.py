"""How far a checkpoint predicts the pushed object to move, against the simulator.

For each ``pointwm eval-plan`` task seed: optionally push the tool ``--pre`` metres straight
towards the target and let the scene settle (``--hold`` plan steps), so the clip starts with
the tool at the object, as a closed-loop planner replans; then, from that state, straight
tool pushes of 5, 10, 15 and 20 cm over the model's T steps, each rolled out by the model
and by the simulator (``SimDynamics``, the oracle). Printed per push: the object's mean
displacement along the push (cm) at step 3 (what one replan executes) and at step T, model
and simulator; and at the end the ratio of the sums, model / simulator (1: calibrated,
below 1: the model under-predicts the motion).

With ``--offsets``, the pushes are instead 15 cm long and pass the object's centre at the
given lateral offsets (cm; the tool slides sideways over the first 3 steps, then pushes):
printed is the object's displacement at step T along and across the push, model and
simulator, and at the end the mean error (length of the difference of those two
displacements) of the model, and of predicting no motion, against the simulator, for the
centred (|offset| < 1.5 cm) and the off-centre pushes (a model that ignores the offset
predicts a full push where the tool grazes or misses the object).

With ``--retreat`` (after ``--pre``, so the tool starts at the object), the tool instead
leaves the object over T steps: straight back 5 and 10 cm, and 8 cm to either side.
Printed per path: the object's displacement at step T along and across the push direction,
model and simulator; at the end the mean length of the model's predicted displacement and of
the simulator's (a pusher cannot pull: the simulator's is near 0).

    MUJOCO_GL=egl .venv/bin/python scripts/push_calibration.py \\
        --checkpoint assets/checkpoints/tiny_sim.safetensors --seeds 20 26 --pre 0.06
    MUJOCO_GL=egl .venv/bin/python scripts/push_calibration.py \\
        --checkpoint assets/checkpoints/tiny_sim.safetensors --seeds 20 26 --pre 0.06 --hold 2 --retreat
    MUJOCO_GL=egl .venv/bin/python scripts/push_calibration.py \\
        --checkpoint assets/checkpoints/tiny_sim.safetensors --seeds 20 26 --offsets -4 -2.5 -1 0 1 2.5 4
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="world-model checkpoint")
    p.add_argument("--seeds", type=int, nargs=2, default=[20, 26], metavar=("FIRST", "END"),
                   help="task seeds FIRST..END-1 (default: %(default)s)")
    p.add_argument("--pre", type=float, default=0.0,
                   help="metres the tool first moves towards the target (0: from the task's start pose)")
    p.add_argument("--hold", type=int, default=5, help="plan steps the scene settles after --pre")
    p.add_argument("--offsets", type=float, nargs="+", default=None, metavar="CM",
                   help="lateral offsets (cm) of 15 cm pushes, instead of centred pushes of 5-20 cm")
    p.add_argument("--retreat", action="store_true",
                   help="paths that leave the object (back 5 and 10 cm, 8 cm to either side) instead of pushes")
    p.add_argument("--robot", default="panda")
    args = p.parse_args()
    if args.retreat and args.offsets:
        p.error("--retreat and --offsets: choose one")
    if args.seeds[1] <= args.seeds[0]:
        p.error(f"--seeds: expected FIRST < END, got {args.seeds[0]} {args.seeds[1]}")
    os.environ.setdefault("MUJOCO_GL", "egl")
    torch.set_num_threads(2)
    from kinematics import load_robot
    from pointwm.data.sim.motion import arm_and_grippers, dls_ik, tool_link
    from pointwm.eval.closed_loop import EvalConfig, SimDynamics, SimEnv, make_task
    from pointwm.model import WorldModel

    robot = load_robot(args.robot)
    model = WorldModel.load(args.checkpoint)
    T, dt = model.config.num_steps, 0.1  # dt: the closed_loop planner preset's step (s)
    tool = tool_link(robot)
    arm, _ = arm_and_grippers(robot)
    cfg = EvalConfig(robot=args.robot)
    lengths = (0.05, 0.10, 0.15, 0.20)
    sums = np.zeros(4)  # model@3, sim@3, model@T, sim@T

    errors: dict[str, list[float]] = {"centred model": [], "centred zero": [], "off-centre model": [],
                                      "off-centre zero": [], "retreat model": [], "retreat simulator": []}

    def straight(q0: np.ndarray, way: np.ndarray, n: int, side: np.ndarray | None = None) -> np.ndarray:
        """Joint path (n, J) moving the tool along ``way``, plus ``side`` over the first 3 steps."""
        pose = robot.link_poses(torch.as_tensor(q0[None]), validate=False)[0, tool].numpy()
        q, qs = q0.copy(), []
        for t in range(1, n + 1):
            shift = way * t / n + (0.0 if side is None else side * min(t, 3) / 3)
            q, _ = dls_ik(robot, q, pose[:3, 3] + shift, pose[:3, :3], arm, iters=15)
            qs.append(q)
        return np.stack(qs)

    for seed in range(*args.seeds):
        task = make_task(seed, cfg, robot, T, dt)
        env = SimEnv(task, robot, cfg, T, dt)
        d = np.r_[np.asarray(task.target_xy) - env.object_xy(), 0.0]
        d /= np.linalg.norm(d)
        if args.pre > 0:
            env.execute(straight(env.q, d * args.pre, 5))
            env.hold(args.hold)
        cloud, seg = env.observe(np.random.default_rng(seed))
        mask = torch.from_numpy(seg == task.obj + 1)
        q0 = env.q.copy()
        n = np.array([-d[1], d[0], 0.0])
        axes = torch.from_numpy(np.stack([d[:2], n[:2]], 1)).float()  # xy -> (along, across) the push
        retreats = {"back 5 cm": -d * 0.05, "back 10 cm": -d * 0.10, "aside +8 cm": n * 0.08, "aside -8 cm": -n * 0.08}
        if args.retreat:
            paths = [straight(q0, way, T) for way in retreats.values()]
        elif args.offsets:
            paths = [straight(q0, d * 0.15, T, n * o / 100) for o in args.offsets]
        else:
            paths = [straight(q0, d * L, T) for L in lengths]
        q = torch.from_numpy(np.stack([np.concatenate([q0[None], path]) for path in paths]))
        flows = robot.point_flow(q).float()
        sim = SimDynamics(env, seg)(cloud, flows, q_traj=q)
        pred = model.predict(cloud, flows)
        if args.retreat:
            for i, name in enumerate(retreats):
                s = sim[i][-1, mask].mean(0)[:2] @ axes
                m = pred[i][-1, mask].mean(0)[:2] @ axes
                errors["retreat model"].append(float(torch.linalg.vector_norm(m)))
                errors["retreat simulator"].append(float(torch.linalg.vector_norm(s)))
                print(f"seed {seed} {name:11s}: along/across model {m[0] * 100:5.1f} {m[1] * 100:5.1f} "
                      f"sim {s[0] * 100:5.1f} {s[1] * 100:5.1f} (cm)", flush=True)
        elif args.offsets:
            for i, o in enumerate(args.offsets):
                s = sim[i][-1, mask].mean(0)[:2] @ axes
                m = pred[i][-1, mask].mean(0)[:2] @ axes
                key = "centred" if abs(o) < 1.5 else "off-centre"
                errors[f"{key} model"].append(float(torch.linalg.vector_norm(m - s)))
                errors[f"{key} zero"].append(float(torch.linalg.vector_norm(s)))
                print(f"seed {seed} offset {o:5.1f} cm: along/across model {m[0] * 100:5.1f} {m[1] * 100:5.1f} "
                      f"sim {s[0] * 100:5.1f} {s[1] * 100:5.1f} (cm)", flush=True)
        else:
            u = torch.from_numpy(d[:2]).float()
            for i, L in enumerate(lengths):
                s = sim[i][:, mask].mean(1)[:, :2] @ u
                m = pred[i][:, mask].mean(1)[:, :2] @ u
                sums += [float(m[2]), float(s[2]), float(m[-1]), float(s[-1])]
                print(f"seed {seed} push {L * 100:4.0f} cm: step 3 model {m[2] * 100:5.1f} sim {s[2] * 100:5.1f} | "
                      f"step {T} model {m[-1] * 100:5.1f} sim {s[-1] * 100:5.1f} (cm)", flush=True)
    if args.retreat:
        print("mean length of the object's displacement at step T (cm): " + ", ".join(
            f"{k} {100 * np.mean(v):.1f}" for k, v in errors.items() if v))
    elif args.offsets:
        print("mean |error| at step T (cm): " + ", ".join(
            f"{k} {100 * np.mean(v):.1f}" for k, v in errors.items() if v) + " (zero: predicting no motion)")
    else:
        print(f"model / simulator: step 3 {sums[0] / max(sums[1], 1e-9):.2f}, step {T} {sums[2] / max(sums[3], 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
