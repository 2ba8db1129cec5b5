"""Depth image → point cloud, vectorised in torch on the depth's device."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from capture.camera import CaptureError, Intrinsics
from capture.frame import as_color, as_depth, check_image_matches
from pointwm.geometry import PointCloud, as_transform

DEFAULT_MAX_DEPTH = 10.0  # metres; RealSense D4xx readings past this are noise


def backproject(
    depth: Tensor,
    intrinsics: Intrinsics,
    T_world_cam: Tensor | None = None,
    color: Tensor | None = None,
    *,
    max_depth: float = DEFAULT_MAX_DEPTH,
    min_depth: float = 0.0,
) -> PointCloud:
    """Lift every valid depth pixel to a 3D point.

    depth:       (H, W) float metres (numpy or torch); 0, NaN, inf, <= min_depth or
                 > max_depth are dropped.
    intrinsics:  pinhole intrinsics of the image (OpenCV convention, W x H must match).
    T_world_cam: (4, 4) camera pose in the world frame; None keeps camera coordinates.
    color:       (H, W, 3) uint8 or float [0, 1], registered to depth; optional.

    Returns a PointCloud of the valid pixels in row-major (v, u) order, xyz float32 metres
    in the world frame (or camera frame), colours float32 in [0, 1]. Runs on depth's device.
    """
    d = as_depth(depth)
    check_image_matches(d, intrinsics, "depth")
    if color is not None:
        c = as_color(color).to(d.device)
        if c.shape[:2] != d.shape:
            raise CaptureError(
                f"color and depth differ in size: color {tuple(c.shape[:2])}, depth {tuple(d.shape)} (H, W)"
            )
    flat = d.reshape(-1)
    # NaN fails every comparison and +inf fails the upper bound, so two tests cover all.
    valid = (flat > min_depth) & (flat <= max_depth)
    idx = valid.nonzero().squeeze(1)  # row-major pixel index v * W + u
    z = flat.index_select(0, idx)
    xyz = _rays(intrinsics, d.device).index_select(0, idx) * z[:, None]  # camera frame
    if T_world_cam is not None:
        T = as_transform(T_world_cam, "T_world_cam").to(device=d.device, dtype=torch.float32)
        xyz = torch.addmm(T[:3, 3], xyz, T[:3, :3].T)
    return PointCloud(xyz, None if color is None else c.reshape(-1, 3).index_select(0, idx))


@functools.lru_cache(maxsize=8)
def _rays(intrinsics: Intrinsics, device: torch.device) -> Tensor:
    """(H*W, 3) float32 camera-frame rays with z = 1, one per pixel in row-major order."""
    v, u = torch.meshgrid(
        torch.arange(intrinsics.height, dtype=torch.float64, device=device),
        torch.arange(intrinsics.width, dtype=torch.float64, device=device),
        indexing="ij",
    )
    x = (u - intrinsics.cx) / intrinsics.fx
    y = (v - intrinsics.cy) / intrinsics.fy
    return torch.stack([x, y, torch.ones_like(x)], dim=-1).reshape(-1, 3).float()
