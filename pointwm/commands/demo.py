"""``pointwm demo``: the README's main job on the embedded default.

Today it runs the capture pipeline on the sample capture in ``assets/``: fuse the cameras
into one cloud in the robot base frame and write the cloud (.ply), a picture (.png) and a
JSON summary. Later stages (robot, world model, planner) extend this same command.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pointwm.commands.common import add_cloud_options, cloud_from_capture, write_json
from pointwm.paths import SAMPLE_CAPTURE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the system on the embedded default (the sample capture in assets/)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--capture", type=Path, default=SAMPLE_CAPTURE,
                   help="capture directory to run on (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("runs/demo"),
                   help="output directory (default: %(default)s)")
    add_cloud_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pointwm.ply import write_ply
    from pointwm.viz import render_cloud_png

    t0 = time.perf_counter()
    frames, cloud = cloud_from_capture(args.capture, args)
    out: Path = args.out
    ply = write_ply(out / "scene.ply", cloud)
    png = render_cloud_png(cloud, out / "scene.png", title=f"sample capture: {len(cloud)} points")
    xyz = cloud.xyz
    summary = {
        "capture": str(args.capture),
        "cameras": [f.name for f in frames],
        "num_points": len(cloud),
        "voxel_size_m": args.voxel,
        "workspace_m": args.workspace,
        "bounds_m": {"min": xyz.min(0).values.tolist(), "max": xyz.max(0).values.tolist()},
        "outputs": {"cloud": str(ply), "picture": str(png)},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    summary_path = write_json(out / "summary.json", summary)
    print(
        f"pointwm demo: {len(frames)} camera(s) -> {len(cloud)} points in {summary['seconds']} s\n"
        f"  cloud:   {ply}\n  picture: {png}\n  summary: {summary_path}"
    )
    return 0
