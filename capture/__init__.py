"""RGB-D capture: cameras, frames, backprojection, crop, voxelisation, capture files."""

from capture.backproject import backproject
from capture.camera import CaptureError, Intrinsics
from capture.frame import RGBDFrame
from capture.io import load_capture, save_capture
from capture.process import Workspace, crop, estimate_normals, frames_to_cloud, voxel_downsample

__all__ = [
    "CaptureError",
    "Intrinsics",
    "RGBDFrame",
    "Workspace",
    "backproject",
    "crop",
    "estimate_normals",
    "frames_to_cloud",
    "load_capture",
    "save_capture",
    "voxel_downsample",
]
