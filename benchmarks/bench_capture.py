"""Capture pipeline speed: backproject + crop + voxelise one 1280x720 RGB-D frame.

Peer, in the same run: Open3D's legacy pipeline (``PointCloud.create_from_rgbd_image`` +
``crop`` to the same box + ``voxel_down_sample``) on the same frame. Prints median times
and the ratio (Open3D time / pointwm time: > 1 means pointwm is faster).

    .venv/bin/python benchmarks/bench_capture.py [--repeats 20] [--voxel 0.015]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import open3d as o3d
import torch

from capture import Intrinsics, Workspace, backproject, crop, voxel_downsample
from capture.synthetic import render, table_scene
from pointwm.geometry import look_at


def _median_time(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--voxel", type=float, default=0.015)
    args = parser.parse_args(argv)

    intr = Intrinsics.from_fov(1280, 720, fov_y_deg=42.0)  # D435 colour at 1280x720
    T = look_at((1.15, 0.0, 0.65), (0.4, 0.0, 0.0)).numpy()
    frame, _, _ = render(table_scene(), intr, T)
    depth = frame.depth.numpy()
    color = (frame.color.numpy() * 255).astype(np.uint8)
    ws = Workspace()
    print(f"frame 1280x720, {int((depth > 0).sum())} valid depth pixels, voxel {args.voxel} m, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), open3d {o3d.__version__}")

    depth_t, color_t, T_t = torch.from_numpy(depth), frame.color, torch.from_numpy(T)

    def ours():
        cloud = backproject(depth_t, intr, T_t, color_t)
        return voxel_downsample(crop(cloud, ws), args.voxel)[0]

    o3d_intr = o3d.camera.PinholeCameraIntrinsic(intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy)
    extrinsic = np.linalg.inv(T)
    box = o3d.geometry.AxisAlignedBoundingBox(np.array(ws.lo, float), np.array(ws.hi, float))
    o3d_depth, o3d_color = o3d.geometry.Image(depth), o3d.geometry.Image(color)

    def open3d():
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d_color, o3d_depth, depth_scale=1.0, depth_trunc=10.0, convert_rgb_to_intensity=False)
        pc = o3d.geometry.PointCloud.create_from_rgbd_image(rgbd, o3d_intr, extrinsic)
        return pc.crop(box).voxel_down_sample(args.voxel)

    t_ours, pooled = _median_time(ours, args.repeats)
    t_o3d, ref = _median_time(open3d, args.repeats)
    print(f"{'pipeline':<40}{'median ms':>12}{'points':>10}")
    print(f"{'pointwm backproject+crop+voxelise':<40}{t_ours * 1e3:>12.2f}{len(pooled):>10}")
    print(f"{'open3d create_from_rgbd+crop+voxel':<40}{t_o3d * 1e3:>12.2f}{len(ref.points):>10}")
    print(f"ratio open3d / pointwm: {t_o3d / t_ours:.2f}x (> 1: pointwm faster)")
    # Open3D anchors its grid at the cloud's min bound, pointwm at the world origin, so
    # the voxel counts differ by a few percent; both are one point per occupied voxel.


if __name__ == "__main__":
    main()
