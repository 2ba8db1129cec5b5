"""Capture directories on disk.

A camera directory holds ``color.png`` (8-bit RGB), ``depth.png`` (16-bit, depth in
units of 1/depth_scale metres: millimetres for the default scale 1000, as RealSense and
Open3D write it) and ``camera.json``::

    {"format": "pointwm-camera", "version": 1, "name": "cam0",
     "intrinsics": {"fx": ..., "fy": ..., "cx": ..., "cy": ..., "width": W, "height": H},
     "T_world_cam": [[4 x 4]], "depth_scale": 1000.0, "timestamp": 0.0, "meta": {...}}

A capture is either one camera directory, or a directory with ``capture.json``
(``{"format": "pointwm-capture", "version": 1, "cameras": ["cam0", "cam1"]}``) and one
camera directory per listed camera. Captures are written to a temporary directory and
renamed into place, so an interrupted save never leaves a half-written capture.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from capture.camera import CaptureError, Intrinsics
from capture.frame import RGBDFrame

CAMERA_FORMAT = "pointwm-camera"
CAPTURE_FORMAT = "pointwm-capture"
VERSION = 1
DEPTH_SCALE = 1000.0  # depth.png units per metre


def _write_camera(directory: Path, frame: RGBDFrame, depth_scale: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    color = (frame.color.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    Image.fromarray(color, "RGB").save(directory / "color.png")
    depth = frame.depth.cpu().numpy().astype(np.float64)
    depth = np.round(np.where(np.isfinite(depth) & (depth > 0), depth, 0.0) * depth_scale)
    if depth.max(initial=0) > np.iinfo(np.uint16).max:
        raise CaptureError(
            f"camera {frame.name!r}: depth {depth.max() / depth_scale:.2f} m does not fit in "
            f"uint16 at depth_scale {depth_scale}"
        )
    Image.fromarray(depth.astype(np.uint16)).save(directory / "depth.png")
    meta = {
        "format": CAMERA_FORMAT,
        "version": VERSION,
        "name": frame.name,
        "intrinsics": frame.intrinsics.to_dict(),
        "T_world_cam": frame.T_world_cam.tolist(),
        "depth_scale": depth_scale,
        "timestamp": frame.timestamp,
        "meta": frame.meta,
    }
    (directory / "camera.json").write_text(json.dumps(meta, indent=2))


def save_capture(
    path: str | os.PathLike, frames: RGBDFrame | Sequence[RGBDFrame], depth_scale: float = DEPTH_SCALE,
    overwrite: bool = False,
) -> Path:
    """Write one or more frames as a capture directory at ``path`` (atomically).

    One frame gives a single camera directory; several give ``capture.json`` plus one
    sub-directory per camera (names must be unique). Returns the path.
    """
    frames = [frames] if isinstance(frames, RGBDFrame) else list(frames)
    if not frames:
        raise CaptureError("save_capture: expected at least one RGBDFrame")
    names = [f.name for f in frames]
    if len(set(names)) != len(names):
        raise CaptureError(f"save_capture: camera names must be unique, got {names}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise CaptureError(f"{path}: already exists (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        if len(frames) == 1:
            _write_camera(tmp, frames[0], depth_scale)
        else:
            for frame in frames:
                _write_camera(tmp / frame.name, frame, depth_scale)
            index = {"format": CAPTURE_FORMAT, "version": VERSION, "cameras": names}
            (tmp / "capture.json").write_text(json.dumps(index, indent=2))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _read_json(path: Path, expected_format: str) -> dict:
    if not path.is_file():
        raise CaptureError(f"{path}: missing (expected a {expected_format} JSON file)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CaptureError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise CaptureError(f"{path}: expected \"format\": \"{expected_format}\"")
    if data.get("version") != VERSION:
        raise CaptureError(f"{path}: unsupported version {data.get('version')!r} (this pointwm reads {VERSION})")
    return data


def _read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise CaptureError(f"{path}: missing")
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im)
    except OSError as e:
        raise CaptureError(f"{path}: not a readable PNG image ({e})") from None


def _load_camera(directory: Path) -> RGBDFrame:
    meta = _read_json(directory / "camera.json", CAMERA_FORMAT)
    source = f"{directory / 'camera.json'}"
    intr = Intrinsics.from_dict(meta.get("intrinsics"), f"{source}: intrinsics")
    T = np.asarray(meta.get("T_world_cam", np.eye(4).tolist()), dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise CaptureError(f"{source}: T_world_cam must be a finite 4x4 matrix, got shape {T.shape}")
    if not np.allclose(T[3], [0, 0, 0, 1]) or not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-5):
        raise CaptureError(f"{source}: T_world_cam is not a rigid transform (rotation + translation)")
    scale = meta.get("depth_scale", DEPTH_SCALE)
    if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
        raise CaptureError(f"{source}: depth_scale must be a positive number, got {scale!r}")
    color = _read_image(directory / "color.png")
    if color.ndim == 3 and color.shape[2] == 4:
        color = color[:, :, :3]
    if color.ndim != 3 or color.shape[2] != 3 or color.dtype != np.uint8:
        raise CaptureError(f"{directory / 'color.png'}: expected 8-bit RGB, got shape {color.shape} {color.dtype}")
    depth = _read_image(directory / "depth.png")
    if depth.ndim != 2 or depth.dtype not in (np.uint16, np.int32, np.uint8):
        raise CaptureError(f"{directory / 'depth.png'}: expected a 16-bit single-channel PNG, got shape {depth.shape} {depth.dtype}")
    for name, img in (("color.png", color), ("depth.png", depth)):
        if (img.shape[1], img.shape[0]) != (intr.width, intr.height):
            raise CaptureError(
                f"{directory / name}: image is {img.shape[1]}x{img.shape[0]} but {source} "
                f"intrinsics are for {intr.width}x{intr.height}"
            )
    return RGBDFrame(
        color=color,
        depth=(depth.astype(np.float32) / np.float32(scale)),
        intrinsics=intr,
        T_world_cam=T,
        name=str(meta.get("name", directory.name)),
        timestamp=float(meta.get("timestamp", 0.0)),
        meta=dict(meta.get("meta") or {}),
    )


def load_capture(path: str | os.PathLike) -> list[RGBDFrame]:
    """Read a capture directory written by ``save_capture`` (or by hand, same layout).

    Returns one ``RGBDFrame`` per camera, depth in metres. Raises ``CaptureError`` naming
    the file at fault for a missing directory, a missing or malformed ``camera.json``,
    unreadable images, or images whose size disagrees with the intrinsics.
    """
    path = Path(path)
    if not path.is_dir():
        raise CaptureError(f"{path}: not a capture directory (expected camera.json or capture.json inside)")
    if (path / "capture.json").exists():
        index = _read_json(path / "capture.json", CAPTURE_FORMAT)
        cameras = index.get("cameras")
        if not isinstance(cameras, list) or not cameras or not all(isinstance(c, str) for c in cameras):
            raise CaptureError(f"{path / 'capture.json'}: \"cameras\" must be a non-empty list of names")
        return [_load_camera(path / c) for c in cameras]
    if not (path / "camera.json").exists():
        raise CaptureError(f"{path}: no camera.json or capture.json inside; not a capture directory")
    return [_load_camera(path)]
