"""Data throughput: simulated clip generation and archive reading (clips/s, one process).

Generation: ``generate_archive`` with one worker (so the figure is per core) at each camera
resolution, after one warm-up clip (EGL context, robot loading). Also reported: mean scene
points per clip, archive bytes per clip, and the contact rate (clips in which some object
moved more than 5 mm). Reading: streaming the generated archive through ``ArchiveDataset``
(sha256 + decode), then with ``clip_to_sample`` (robot flows by FK) and ``augment``.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_data.py [--clips 20] [--sizes 160x120 320x240]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import torch  # noqa: E402

from pointwm.data.archive import read_manifest  # noqa: E402
from pointwm.data.augment import AugmentConfig, augment  # noqa: E402
from pointwm.data.dataset import ArchiveDataset  # noqa: E402
from pointwm.data.sample import clip_to_sample  # noqa: E402
from pointwm.data.sim import SimConfig, generate_archive, generate_clip  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--sizes", nargs="+", default=["160x120", "320x240"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch threads 1, MUJOCO_GL={os.environ['MUJOCO_GL']}, {args.clips} clips per size")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            w, h = (int(x) for x in size.split("x"))
            cfg = SimConfig(width=w, height=h)
            generate_clip(999, 0, cfg)  # warm-up
            root = Path(tmp) / size
            t0 = time.perf_counter()
            generate_archive(root, args.clips, seed=0, cfg=cfg, workers=1, clips_per_shard=8, progress=False)
            gen = time.perf_counter() - t0
            m = read_manifest(root)
            clips = list(ArchiveDataset(root))
            moved = sum(any(x > 0.005 for x in c.provenance["object_moved_m"]) for c in clips)
            pushes = sum(c.provenance["motion"] == "push" for c in clips)
            npts = sum(c.num_points for c in clips) / len(clips)
            print(f"\n[{size}] generate: {args.clips / gen:.2f} clips/s per core ({gen / args.clips * 1e3:.0f} ms/clip)")
            print(f"[{size}] {npts:.0f} scene points/clip, {sum(s.bytes for s in m.shards) / m.num_clips / 1e6:.2f} MB/clip, "
                  f"pushes {pushes}/{len(clips)}, contact (object moved > 5 mm) {moved}/{len(clips)}")
            g = torch.Generator().manual_seed(0)
            for name, transform in (
                ("read (sha256 + decode)", None),
                ("read + robot flows", clip_to_sample),
                ("read + robot flows + augment", lambda c, g=g: augment(clip_to_sample(c), AugmentConfig(), g)),
            ):
                ds = ArchiveDataset(root, transform=transform)
                t0 = time.perf_counter()
                n = sum(1 for _ in ds)
                dt = time.perf_counter() - t0
                print(f"[{size}] {name}: {n / dt:.1f} clips/s")


if __name__ == "__main__":
    main()
