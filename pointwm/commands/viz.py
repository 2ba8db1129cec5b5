"""``pointwm viz``: look at a capture, an archive clip, a prediction or a plan.

Writes the static pictures asked for (--png, --gif, --ply), then serves the browser viewer
at http://HOST:PORT until Ctrl-C / SIGTERM, unless --static-only (alias --no-browser).
The viewer binds to 127.0.0.1; from another machine forward the port:
``ssh -L 8080:127.0.0.1:8080 HOST`` and open http://127.0.0.1:8080/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pointwm.errors import CLIError
from pointwm.viz import open_source, render_flow_png, render_rollout_gif, write_flow_ply
from pointwm.viz.viewer import serve


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "viz",
        help="view a capture, archive clip, prediction (.npz) or plan (.json) in the browser or as pictures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", help="capture directory, ARCHIVE_DIR or ARCHIVE_DIR#clip_key, "
                                "prediction bundle (.npz) or plan (.json)")
    p.add_argument("--clip", default=None, help="archive clip index or key (default: the first clip)")
    p.add_argument("--host", default="127.0.0.1", help="viewer address to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="viewer port (default: %(default)s)")
    p.add_argument("--png", type=Path, default=None, help="write a perspective + top-down flow picture here")
    p.add_argument("--gif", type=Path, default=None, help="write an animated GIF of the rollout here")
    p.add_argument("--ply", type=Path, default=None, help="write the cloud with per-point flow attributes here")
    p.add_argument("--flow", choices=("auto", "pred", "gt"), default="auto",
                   help="which flow the pictures show: prediction, ground truth, or auto "
                        "(the prediction when there is one; default: %(default)s)")
    p.add_argument("--step", type=int, default=None, help="step of the PNG (default: the last, T)")
    p.add_argument("--fps", type=float, default=3.0, help="GIF frames per second (default: %(default)s)")
    p.add_argument("--point-size", type=float, default=0.01,
                   help="viewer point size in metres (default: %(default)s)")
    p.add_argument("--static-only", "--no-browser", dest="static_only", action="store_true",
                   help="write the pictures and exit without starting the viewer")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scene = open_source(args.path, clip=args.clip)
    which = args.flow
    if which != "auto" and scene.flow(which) is None:
        raise CLIError(f"{args.path}: has no {'predicted' if which == 'pred' else 'ground-truth'} flow "
                         f"(use --flow auto)")
    print(f"{scene.name}: {scene.num_points} scene points, {scene.robot_flow.shape[1]} robot points, "
          f"T = {scene.num_steps}")
    if args.png:
        print(f"  picture: {render_flow_png(scene, args.png, which=which, step=args.step)}")
    if args.gif:
        print(f"  rollout: {render_rollout_gif(scene, args.gif, which=which, fps=args.fps)}")
    if args.ply:
        print(f"  cloud:   {write_flow_ply(scene, args.ply, which=which)}")
    if args.static_only:
        return 0

    def ready(viewer) -> None:
        print(f"viewer: {viewer.url}  (Ctrl-C to stop; from another machine: "
              f"ssh -L {viewer.port}:127.0.0.1:{viewer.port} HOST)", flush=True)

    serve(scene, host=args.host, port=args.port, point_size=args.point_size, on_ready=ready)
    print("viewer stopped", file=sys.stderr)
    return 0
