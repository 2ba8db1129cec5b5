"""``pointwm cloud``: a capture directory → a point cloud (.ply) and a picture (.png)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pointwm.commands.common import add_cloud_options, cloud_from_capture
from pointwm.ply import write_ply
from pointwm.viz import render_cloud_png


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cloud",
        help="turn a capture directory into a point cloud (.ply) and a picture (.png)",
        description="Backproject every camera of a capture into the world frame, crop to the "
        "workspace, voxelise, estimate normals, and write a PLY file and a PNG picture.",
    )
    p.add_argument("capture", type=Path, help="capture directory (camera.json or capture.json inside)")
    p.add_argument("--out", type=Path, default=None,
                   help="output PLY path (default: CAPTURE/cloud.ply)")
    p.add_argument("--png", type=Path, default=None,
                   help="output picture path (default: the PLY path with .png)")
    add_cloud_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _, cloud = cloud_from_capture(args.capture, args)
    ply = args.out or args.capture / "cloud.ply"
    png = args.png or ply.with_suffix(".png")
    write_ply(ply, cloud)
    render_cloud_png(cloud, png, title=f"{args.capture.name}: {len(cloud)} points")
    print(f"{len(cloud)} points\ncloud:   {ply}\npicture: {png}")
    return 0
