"""RGB-D capture: cameras, frames, backprojection, crop, voxelisation, capture files."""

from capture.backproject import backproject
from capture.camera import CaptureError, Intrinsics
from capture.frame import RGBDFrame
from capture.io import load_capture, save_capture
from capture.process import Workspace, crop, estimate_normals, frames_to_cloud, voxel_downsample

_REALSENSE = ("capture_live", "load_recording", "read_recording", "write_synthetic_recording")

__all__ = [
    "CaptureError",
    "Intrinsics",
    "RGBDFrame",
    "Workspace",
    "backproject",
    "capture_live",
    "crop",
    "estimate_normals",
    "frames_to_cloud",
    "load_capture",
    "load_recording",
    "read_recording",
    "save_capture",
    "voxel_downsample",
    "write_synthetic_recording",
]


def __getattr__(name: str):
    # RealSense entry points load lazily: `import capture` must not import pyrealsense2.
    if name in _REALSENSE:
        from capture import realsense

        return getattr(realsense, name)
    raise AttributeError(f"module 'capture' has no attribute {name!r}")
