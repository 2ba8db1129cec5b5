"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from capture import Workspace, frames_to_cloud, load_capture
from capture.process import DEFAULT_VOXEL_SIZE
from pointwm.atomic import write_json as _write_json

log = logging.getLogger("pointwm")


def add_cloud_options(parser: argparse.ArgumentParser) -> None:
    """Options of the capture → cloud pipeline (crop, voxel size, normals, range)."""
    ws = Workspace()
    g = parser.add_argument_group("point cloud")
    g.add_argument(
        "--workspace", type=float, nargs=6, metavar=("X0", "Y0", "Z0", "X1", "Y1", "Z1"),
        default=[*ws.lo, *ws.hi],
        help="crop box in the world (robot base) frame, metres (default: PointWorld's %(default)s)",
    )
    g.add_argument("--voxel", type=float, default=DEFAULT_VOXEL_SIZE,
                   help="voxel size in metres, 0 keeps every point (default: %(default)s)")
    g.add_argument("--max-depth", type=float, default=10.0,
                   help="drop depth readings beyond this many metres (default: %(default)s)")
    g.add_argument("--no-normals", action="store_true", help="skip normal estimation")


def cloud_from_capture(capture_dir: Path, args: argparse.Namespace):
    """Load a capture directory and fuse its cameras with the options of ``add_cloud_options``."""
    frames = load_capture(capture_dir)
    workspace = Workspace(tuple(args.workspace[:3]), tuple(args.workspace[3:]))
    t0 = time.perf_counter()
    cloud = frames_to_cloud(
        frames, workspace, voxel_size=args.voxel or None,
        normals=not args.no_normals, max_depth=args.max_depth, progress=True,
    )
    log.info("%s: %d camera(s) -> %d points in %.2f s", capture_dir, len(frames), len(cloud),
             time.perf_counter() - t0)
    return frames, cloud


def checkpoint_label(paths: list[Path]) -> str | list[str]:
    """How a run records its ``--checkpoint`` paths: one path as a string (as runs from before
    ensembles did), several as a list."""
    return str(paths[0]) if len(paths) == 1 else [str(p) for p in paths]


def warn_if_robot_differs(model, robot) -> None:
    """Log a warning when ``robot``'s points are drawn unlike those ``model`` was trained with."""
    msg = model.check_robot(robot)
    if msg:
        log.warning("%s", msg)


def write_json(path: Path, data: dict) -> Path:
    """Write JSON atomically (temporary file + rename)."""
    return _write_json(path, data)
