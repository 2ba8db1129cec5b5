"""What the simulated cameras see: colour, depth and segmentation per camera, and the fused,
voxelised t0 scene points (robot pixels dropped) with their exact body of origin."""

from __future__ import annotations

import mujoco
import numpy as np
import torch

from capture import Intrinsics, Workspace, backproject, estimate_normals
from pointwm.geometry import PointCloud, look_at
from pointwm.sim.config import WorldConfig
from pointwm.sim.scene import SEG_BACKGROUND, SEG_ROBOT, CameraSpec, SceneSpec

__all__ = ["camera_intrinsics", "camera_pose", "render_views", "scene_points"]


def camera_intrinsics(cfg: WorldConfig, camera: CameraSpec) -> Intrinsics:
    """The pinhole intrinsics of ``camera`` at the world's image size."""
    return Intrinsics.from_fov(cfg.width, cfg.height, camera.fov_deg)


def camera_pose(camera: CameraSpec) -> torch.Tensor:
    """(4, 4) T_world_cam of ``camera`` (OpenCV axes), float64."""
    return look_at(camera.eye, camera.target)


def render_views(model, data, scene: SceneSpec, cfg: WorldConfig, geom_segment: np.ndarray) -> list[dict]:
    """Per camera of ``scene``: rgb (H, W, 3) uint8, depth (H, W) float32 m (0 = none),
    seg (H, W) int32 segment ids (``geom_segment`` (G,) maps MuJoCo geoms to them)."""
    out = []
    renderer = mujoco.Renderer(model, cfg.height, cfg.width)
    try:
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
            renderer.scene.flags[flag] = 0
        for i in range(len(scene.cameras)):
            renderer.update_scene(data, camera=f"cam{i}")
            rgb = renderer.render().copy()
            renderer.enable_depth_rendering()
            renderer.update_scene(data, camera=f"cam{i}")
            depth = renderer.render().astype(np.float32)
            renderer.disable_depth_rendering()
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera=f"cam{i}")
            ids = renderer.render()
            renderer.disable_segmentation_rendering()
            geom = np.where(ids[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM), ids[..., 0], -1)
            seg = np.where(geom >= 0, geom_segment[np.clip(geom, 0, None)], SEG_BACKGROUND).astype(np.int32)
            depth = np.where(seg == SEG_BACKGROUND, 0.0, depth).astype(np.float32)
            out.append({"rgb": rgb, "depth": depth, "seg": seg})
    finally:
        renderer.close()
    return out


def scene_points(views: list[dict], scene: SceneSpec, cfg: WorldConfig, rng: np.random.Generator):
    """Fused, cropped, voxelised t0 scene points (robot pixels excluded); None when the
    cameras see none.

    Returns xyz (N, 3) float64, colors (N, 3) uint8, segment (N,) int16, camera (N,) int16,
    normals (N, 3) float32. One representative point per voxel: the pixel point nearest the
    voxel centre (exact ground truth: it belongs to one body). ``rng`` draws the points kept
    when there are more than ``cfg.max_points``.
    """
    ws = Workspace(cfg.workspace_lo, cfg.workspace_hi)
    xyz, col, seg, cam = [], [], [], []
    for i, (v, c) in enumerate(zip(views, scene.cameras, strict=True)):
        keep = (v["seg"] != SEG_ROBOT) & (v["seg"] != SEG_BACKGROUND)
        depth = np.where(keep, v["depth"], 0.0).astype(np.float32)
        cloud = backproject(torch.from_numpy(depth), camera_intrinsics(cfg, c), camera_pose(c), v["rgb"])
        flat = depth.reshape(-1)
        valid = (flat > 0) & (flat <= 10.0)  # backproject's rule, same row-major order
        inside = ws.contains(cloud.xyz).numpy()
        xyz.append(cloud.xyz.numpy().astype(np.float64)[inside])
        col.append(v["rgb"].reshape(-1, 3)[valid][inside])
        seg.append(v["seg"].reshape(-1)[valid][inside])
        cam.append(np.full(int(inside.sum()), i, np.int16))
    xyz, col, seg, cam = (np.concatenate(a) for a in (xyz, col, seg, cam))
    if len(xyz) == 0:
        return None
    vs = cfg.voxel_size
    grid = np.floor((xyz + vs / 2) / vs).astype(np.int64)  # capture's grid: centres at k * vs
    _, inverse = np.unique(grid, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    d = np.linalg.norm(xyz - grid * vs, axis=1)
    order = np.lexsort((d, inverse))
    first = order[np.r_[True, inverse[order][1:] != inverse[order][:-1]]]
    if len(first) > cfg.max_points:
        first = np.sort(rng.choice(first, cfg.max_points, replace=False))
    xyz, col, seg, cam = xyz[first], col[first], seg[first], cam[first]
    normals = _normals(xyz, cam, scene)
    return xyz, col, seg.astype(np.int16), cam, normals


def _normals(xyz: np.ndarray, cam: np.ndarray, scene: SceneSpec) -> np.ndarray:
    """Unit PCA normals (``capture.estimate_normals``) oriented towards each point's camera."""
    n = estimate_normals(PointCloud(torch.from_numpy(xyz.astype(np.float32)))).normals.numpy()
    eyes = np.array([c.eye for c in scene.cameras])[cam]
    flip = ((eyes - xyz) * n).sum(-1) < 0
    return np.where(flip[:, None], -n, n).astype(np.float32)
