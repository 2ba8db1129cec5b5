"""``pointwm capture``: one RGB-D frame from a RealSense camera or recording, saved as a
capture directory (``capture.save_capture``)."""

from __future__ import annotations

import argparse
import json
import logging
from collections import deque
from pathlib import Path

import numpy as np

from capture import CaptureError, realsense, save_capture

log = logging.getLogger(__name__)

DESCRIPTION = """\
Capture one RGB-D frame, depth aligned to colour, and write it as a capture directory
(color.png, depth.png in millimetres, camera.json with intrinsics and T_world_cam).

Live (default): streams from a connected Intel RealSense camera (the first one found,
or --serial), drops --warmup frames for auto-exposure, and keeps the next one.
Playback: --recording FILE reads a RealSense recording (.db3 from SDK >= 2.56, .bag from
older SDKs or the RealSense Viewer) and keeps frame --frame (0-based, counting frames
with both depth and colour).
"""

EPILOG = """\
examples:
  pointwm capture --out scene0
  pointwm capture --out scene0 --serial 123456789012 --width 848 --height 480
  pointwm capture --out scene0 --recording session.db3 --frame 10 --extrinsics T_world_cam.json

--extrinsics takes the camera pose in the world (robot base) frame, OpenCV camera axes,
metres: a .npy holding a 4x4 array, or a .json holding a 4x4 nested list or an object
{"T_world_cam": [[...4x4...]]}.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "capture",
        help="capture an RGB-D frame from a RealSense camera or recording",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="capture directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
    source = parser.add_argument_group("playback (instead of a live camera)")
    source.add_argument("--recording", type=Path, metavar="FILE",
                        help="RealSense recording to read (.db3 or .bag)")
    source.add_argument("--frame", type=int, default=None, metavar="INDEX",
                        help="which frame of the recording, 0-based (default 0)")
    live = parser.add_argument_group("live camera")
    live.add_argument("--serial", metavar="S", help="camera serial number (default: the first found)")
    live.add_argument("--width", type=int, default=640, help="image width, pixels (default 640)")
    live.add_argument("--height", type=int, default=480, help="image height, pixels (default 480)")
    live.add_argument("--fps", type=int, default=30, help="stream frame rate (default 30)")
    live.add_argument("--warmup", type=int, default=15, metavar="N",
                      help="frames to drop before capturing, for auto-exposure (default 15)")
    parser.add_argument("--extrinsics", type=Path, metavar="FILE",
                        help="T_world_cam, 4x4 camera pose in the world frame (.json or .npy; "
                             "default identity)")
    parser.add_argument("--name", default="cam0", help="camera name stored in the capture (default cam0)")
    parser.set_defaults(func=run)


def load_extrinsics(path: Path) -> np.ndarray:
    """(4, 4) float64 T_world_cam from a .npy array or a .json list / {"T_world_cam": ...}."""
    if not path.is_file():
        raise CaptureError(f"{path}: extrinsics file not found")
    if path.suffix == ".npy":
        try:
            T = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise CaptureError(f"{path}: not a readable .npy array ({e})") from None
    elif path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CaptureError(f"{path}: not valid JSON ({e})") from None
        if isinstance(data, dict):
            if "T_world_cam" not in data:
                raise CaptureError(f"{path}: expected a 4x4 list or an object with key \"T_world_cam\"")
            data = data["T_world_cam"]
        try:
            T = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise CaptureError(f"{path}: T_world_cam must be a 4x4 array of numbers") from None
    else:
        raise CaptureError(f"{path}: expected a .json or .npy file with a 4x4 T_world_cam")
    if T.shape != (4, 4) or not np.issubdtype(T.dtype, np.number) or not np.isfinite(T).all():
        raise CaptureError(f"{path}: T_world_cam must be a finite 4x4 matrix, got shape {T.shape}")
    T = T.astype(np.float64)
    if not np.allclose(T[3], [0, 0, 0, 1]) or not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-5):
        raise CaptureError(f"{path}: T_world_cam is not a rigid transform (rotation + translation)")
    return T


def run(args: argparse.Namespace) -> int:
    if args.frame is not None and args.recording is None:
        raise CaptureError("--frame needs --recording (live capture takes the next frame)")
    if args.recording is not None and args.serial is not None:
        raise CaptureError("--serial is for live capture; it cannot be combined with --recording")
    if args.out.exists() and not args.overwrite:
        raise CaptureError(f"{args.out}: already exists (pass --overwrite to replace it)")
    T = load_extrinsics(args.extrinsics) if args.extrinsics is not None else None

    if args.recording is not None:
        index = 0 if args.frame is None else args.frame
        if index < 0:
            raise CaptureError(f"--frame must be >= 0, got {index}")
        frames = realsense.read_recording(args.recording, max_frames=index + 1, T_world_cam=T,
                                          name=args.name)
        count = 0
        last = deque(maxlen=1)  # keep only the newest frame while counting
        for frame in frames:
            last.append(frame)
            count += 1
        if count <= index:
            raise CaptureError(
                f"{args.recording}: no frame {index}: the recording has {count} frame(s) with "
                "both depth and colour"
            )
        frame = last[0]
        source = f"{args.recording} frame {index}"
    else:
        frame = realsense.capture_live(
            serial=args.serial, width=args.width, height=args.height, fps=args.fps,
            warmup_frames=args.warmup, T_world_cam=T, name=args.name,
        )
        source = f"RealSense {frame.meta.get('serial', '?')}"

    path = save_capture(args.out, frame, overwrite=args.overwrite)
    valid = float((frame.depth > 0).float().mean())
    print(f"wrote {path} ({frame.width}x{frame.height}, {100 * valid:.1f}% pixels with depth) "
          f"from {source}")
    return 0
