"""How far a checkpoint predicts the pushed object to move, against the simulator
(``pointwm.eval.push_calibration``), printed per task and path with a summary line.

    .venv/bin/python experiments/push_calibration.py \\
        --checkpoint assets/checkpoints/tiny_sim.safetensors --seeds 20 26 --pre 0.06
    .venv/bin/python experiments/push_calibration.py \\
        --checkpoint assets/checkpoints/tiny_sim.safetensors --seeds 20 26 --pre 0.06 --hold 2 --retreat
    .venv/bin/python experiments/push_calibration.py \\
        --checkpoint assets/checkpoints/tiny_sim.safetensors --seeds 20 26 --offsets -4 -2.5 -1 0 1 2.5 4

Default: centred pushes of 5-20 cm; printed, the object's displacement along the push at
step 3 (what one replan executes) and step T, model and simulator, and the ratio of the sums
(1: calibrated, below 1: the model under-predicts). ``--offsets``: 15 cm pushes at lateral
offsets (cm); the mean error at step T of the model and of predicting no motion, for centred
(|offset| < 1.5 cm) and off-centre pushes. ``--retreat``: paths that leave the object; the mean
length of the predicted and the simulated displacement (a pusher cannot pull: near 0).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from kinematics import load_robot
from pointwm.eval.push_calibration import calibrate
from pointwm.model import WorldModel


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
    torch.set_num_threads(2)
    robot, model = load_robot(args.robot), WorldModel.load(args.checkpoint)
    family = "retreat" if args.retreat else "offsets" if args.offsets else "lengths"
    offsets = args.offsets or (0.0,)
    sums = np.zeros(4)  # model@3, sim@3, model@T, sim@T
    errors: dict[str, list[float]] = {}
    for seed in range(*args.seeds):
        results = calibrate(model, robot, seed, family, offsets, args.pre, args.hold)
        for i, r in enumerate(results):
            m, s = r.model * 100, r.simulator * 100  # (T, 2) cm
            if family == "lengths":
                sums += [m[2, 0], s[2, 0], m[-1, 0], s[-1, 0]]
                print(f"seed {seed} {r.label}: step 3 model {m[2, 0]:5.1f} sim {s[2, 0]:5.1f} | "
                      f"step {len(m)} model {m[-1, 0]:5.1f} sim {s[-1, 0]:5.1f} (cm)", flush=True)
                continue
            print(f"seed {seed} {r.label}: along/across model {m[-1, 0]:5.1f} {m[-1, 1]:5.1f} "
                  f"sim {s[-1, 0]:5.1f} {s[-1, 1]:5.1f} (cm)", flush=True)
            if family == "retreat":
                errors.setdefault("retreat model", []).append(float(np.linalg.norm(m[-1])))
                errors.setdefault("retreat simulator", []).append(float(np.linalg.norm(s[-1])))
            else:
                key = "centred" if abs(offsets[i]) < 1.5 else "off-centre"
                errors.setdefault(f"{key} model", []).append(float(np.linalg.norm(m[-1] - s[-1])))
                errors.setdefault(f"{key} zero", []).append(float(np.linalg.norm(s[-1])))
    if family == "retreat":
        print("mean length of the object's displacement at step T (cm): "
              + ", ".join(f"{k} {np.mean(v):.1f}" for k, v in errors.items()))
    elif family == "offsets":
        print("mean |error| at step T (cm): " + ", ".join(f"{k} {np.mean(v):.1f}" for k, v in errors.items())
              + " (zero: predicting no motion)")
    else:
        print(f"model / simulator: step 3 {sums[0] / max(sums[1], 1e-9):.2f}, "
              f"step T {sums[2] / max(sums[3], 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
