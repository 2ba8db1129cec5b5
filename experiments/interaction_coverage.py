"""How well the factored model's interaction set covers what really moves, on archive clips.

For each clip: the scene's support/object split and the interaction set of the clip's robot
motion (``pointwm.model.interaction``, the decoder settings of a model config), against the
clip's ground truth. Printed: the fraction of scene points in the set (what the decoder
must decode), and the fraction of moved points (more than 5 mm at some step) left out of it
(predicted exactly still), with their share of the moved points' total displacement.

    .venv/bin/python experiments/interaction_coverage.py data/sim-test --clips 200
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pointwm.data import ArchiveDataset, clip_to_sample
from pointwm.model import ModelConfig
from pointwm.model.interaction import interaction_sets, scene_objects
from pointwm.paths import CONFIGS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--config", type=Path, default=CONFIGS / "model" / "tiny_factored.yaml")
    args = ap.parse_args()
    d = ModelConfig.from_yaml(args.config).decoder
    inside, moved_total, moved_out, disp_total, disp_out, clips = 0, 0, 0, 0.0, 0.0, 0
    worst = []
    for clip in ArchiveDataset([args.archive]):
        s = clip_to_sample(clip)
        xyz, flow = s.points[0], (s.points[1:] - s.points[:1])  # (N, 3), (T, N, 3)
        valid = s.valid[1:].all(0)
        objects = scene_objects(xyz, s.normals, d.link, d.chain, d.support_band)
        active = interaction_sets(objects, s.robot_points[None], d.reach)[0]
        mag = torch.linalg.vector_norm(flow, dim=-1).amax(0)  # (N,) largest displacement
        moved = (mag > 0.005) & valid
        inside += int(active.sum())
        moved_total += int(moved.sum())
        out = moved & ~active
        moved_out += int(out.sum())
        disp_total += float(mag[moved].sum())
        disp_out += float(mag[out].sum())
        clips += 1
        if out.any():
            worst.append((float(mag[out].max()), clip.key))
        if clips >= args.clips:
            break
    n_points = sum(0 for _ in [])  # noqa: F841 (kept simple: fraction below is per point)
    print(f"{clips} clips of {args.archive}")
    print(f"moved points outside the interaction set: {moved_out}/{moved_total} = "
          f"{100 * moved_out / max(moved_total, 1):.2f} % (of the moved points' displacement: "
          f"{100 * disp_out / max(disp_total, 1e-9):.2f} %)")
    print(f"points decoded per clip (mean): {inside / max(clips, 1):.0f}")
    worst.sort(reverse=True)
    print("largest missed displacements (m, clip):", [(round(m, 3), k) for m, k in worst[:5]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
